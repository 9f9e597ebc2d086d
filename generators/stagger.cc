#include "generators/stagger.h"

namespace ctd::generators {
namespace {

enum Size { kSmall, kMedium, kLarge };
enum Color { kRed, kGreen, kBlue };
enum Shape { kSquare, kCircle, kTriangle };

bool holds(int number, int size, int color, int shape) {
  switch (number) {
    case 1:
      return size == kSmall && color == kRed;
    case 2:
      return color == kGreen || shape == kCircle;
    default:
      return size == kMedium || size == kLarge;
  }
}

}  // namespace

StreamSchema stagger_schema() {
  StreamSchema schema;
  schema.features = {categorical_feature("size", {"small", "medium", "large"}),
                     categorical_feature("color", {"red", "green", "blue"}),
                     categorical_feature("shape", {"square", "circle", "triangle"})};
  return schema;
}

Sample StaggerConcept::next() {
  const int size = random_.integer(0, 2);
  const int color = random_.integer(0, 2);
  const int shape = random_.integer(0, 2);
  return {.values = {double(size), double(color), double(shape)},
          .label = holds(number_, size, color, shape) ? 1 : 0};
}

}  // namespace ctd::generators
