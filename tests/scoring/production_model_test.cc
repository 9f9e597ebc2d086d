// ProductionModel against a real registry (PostgreSQL, artifact store) holding models trained
// by ctd-train: it loads the production version, reloads only when production moves, keeps a
// replaced model usable by whoever still holds it, and loads nothing rather than a version that
// is no longer production when the new one cannot be loaded.
#include "daemon/production_model.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "daemon/pg.h"
#include "daemon/schema.h"
#include "registry/artifact_store.h"
#include "registry/registry.h"
#include "tests/scoring/scoring_support.h"
#include "tests/support/pg_server.h"
#include "tests/support/temp_dir.h"

namespace ctd::scoring {
namespace {

using Change = RefreshResult::Change;
using testing::scoring::batch_from;
using testing::scoring::expect_close;
using testing::scoring::layout_of;
using testing::scoring::OwnedBatch;
using testing::scoring::python_predictions;
using testing::scoring::quick_spec;
using testing::scoring::train_model;
using testing::scoring::TrainedModel;

constexpr double kTolerance = 1e-6;
const std::string kModel = "fixture";

class ProductionModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = ::ctd::testing::PgServer::start(); }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    static int counter = 0;
    const std::string database = "scoring_" + std::to_string(++counter);
    server_->create_database(database);
    dsn_ = server_->dsn(database);
    pg::PgConnection db(dsn_);
    schema::migrate(db, schema::builtin_migrations());
    artifacts_ = std::make_unique<registry::ArtifactStore>(tmp_.path() + "/artifacts");
    registry_ = std::make_unique<registry::Registry>(dsn_, *artifacts_);

    // Two versions of one binary model: the same (deterministic) fixture snapshot, different
    // seeds.
    first_ = train_model(tmp_.path() + "/run1", "binary", quick_spec("linear", 2, 1));
    second_ = train_model(tmp_.path() + "/run2", "binary", quick_spec("linear", 2, 2));
    const auto data = trainers::read_snapshot(first_.snapshot);
    batch_ = batch_from(data, layout_of(data.info));
    first_expected_ = python_predictions(first_.model, first_.snapshot);
    second_expected_ = python_predictions(second_.model, second_.snapshot);
  }

  int add_version(const std::string& artifact, const nlohmann::json& manifest) {
    registry::NewVersion v;
    v.model = kModel;
    v.artifact = artifact;
    v.manifest = manifest;
    v.metrics = {{"validation", {{"accuracy", 0.9}}}};
    v.training_params = {{"epochs", 2}};
    v.seq_first = 1;
    v.seq_last = 600;
    v.row_count = 600;
    v.snapshot_sha256 = std::string(64, 'a');
    v.code_version = "test";
    v.device = "cpu";
    return registry_->register_version(v);
  }

  void promote(int version) { registry_->promote(kModel, version, {"test", "scoring test", {}}); }

  std::vector<double> predictions(const LoadedModel& loaded) {
    return loaded.scorer.predict(batch_.view()).predictions;
  }

  static std::unique_ptr<::ctd::testing::PgServer> server_;
  ::ctd::testing::TempDir tmp_{"ctd-production-model"};
  std::string dsn_;
  std::unique_ptr<registry::ArtifactStore> artifacts_;
  std::unique_ptr<registry::Registry> registry_;
  TrainedModel first_, second_;
  OwnedBatch batch_;
  std::vector<double> first_expected_, second_expected_;
};

std::unique_ptr<::ctd::testing::PgServer> ProductionModelTest::server_;

TEST_F(ProductionModelTest, LoadsProductionAndReloadsOnlyWhenItMoves) {
  ASSERT_GT(std::abs(first_expected_[0] - second_expected_[0]), 1e-4)
      << "the seeds made equal models";
  ProductionModel production(*registry_, kModel, batch_.layout);

  // No model registered, then only candidates: nothing to load.
  RefreshResult r = production.refresh();
  EXPECT_EQ(r.change, Change::kUnchanged);
  EXPECT_EQ(r.version, std::nullopt);
  EXPECT_EQ(production.current(), nullptr);
  const int v1 = add_version(first_.model, first_.manifest);
  const int v2 = add_version(second_.model, second_.manifest);
  EXPECT_EQ(production.refresh().change, Change::kUnchanged);
  EXPECT_EQ(production.current(), nullptr);

  promote(v1);
  r = production.refresh();
  EXPECT_EQ(r.change, Change::kLoaded);
  EXPECT_EQ(r.version, v1);
  EXPECT_EQ(r.previous_version, std::nullopt);
  EXPECT_TRUE(r.error.empty());
  const auto loaded_first = production.current();
  ASSERT_NE(loaded_first, nullptr);
  EXPECT_EQ(loaded_first->version, v1);
  EXPECT_EQ(loaded_first->artifact_sha256, registry_->get(kModel, v1)->artifact_sha256);
  expect_close(predictions(*loaded_first), first_expected_, kTolerance);

  // Production has not moved: the same object stays.
  r = production.refresh();
  EXPECT_EQ(r.change, Change::kUnchanged);
  EXPECT_EQ(r.version, v1);
  EXPECT_EQ(production.current(), loaded_first);

  promote(v2);
  r = production.refresh();
  EXPECT_EQ(r.change, Change::kLoaded);
  EXPECT_EQ(r.version, v2);
  EXPECT_EQ(r.previous_version, v1);
  const auto loaded_second = production.current();
  ASSERT_NE(loaded_second, nullptr);
  EXPECT_EQ(loaded_second->version, v2);
  expect_close(predictions(*loaded_second), second_expected_, kTolerance);
  // Whoever still holds the old version can finish scoring with it.
  expect_close(predictions(*loaded_first), first_expected_, kTolerance);

  registry_->rollback(kModel, std::nullopt, {"test", "roll back", {}});
  r = production.refresh();
  EXPECT_EQ(r.change, Change::kLoaded);
  EXPECT_EQ(r.version, v1);
  EXPECT_EQ(r.previous_version, v2);
  expect_close(predictions(*production.current()), first_expected_, kTolerance);

  const auto described = production.describe();
  EXPECT_EQ(described["model"], kModel);
  EXPECT_EQ(described["version"], v1);
  EXPECT_TRUE(described["error"].is_null());
}

TEST_F(ProductionModelTest, AVersionThatCannotBeLoadedLeavesNothingLoaded) {
  const int v1 = add_version(first_.model, first_.manifest);
  const std::string text = tmp_.write("text.pt", "not a TorchScript file");
  const int v2 = add_version(text, first_.manifest);
  const int v3 = add_version(second_.model, second_.manifest);
  ProductionModel production(*registry_, kModel, batch_.layout);
  promote(v1);
  EXPECT_EQ(production.refresh().change, Change::kLoaded);

  // Scoring with v1 after v2 replaced it would blame v1's errors on production.
  promote(v2);
  RefreshResult r = production.refresh();
  EXPECT_EQ(r.change, Change::kFailed);
  EXPECT_EQ(r.version, v2);
  EXPECT_EQ(r.previous_version, v1);
  EXPECT_NE(r.error.find("cannot load version 2 of fixture for scoring: cannot load"),
            std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("as a TorchScript model"), std::string::npos) << r.error;
  EXPECT_EQ(production.current(), nullptr);
  auto described = production.describe();
  EXPECT_TRUE(described["version"].is_null());
  EXPECT_EQ(described["failed_version"], v2);
  EXPECT_EQ(described["error"], r.error);

  // The failure stays until production moves.
  r = production.refresh();
  EXPECT_EQ(r.change, Change::kUnchanged);
  EXPECT_EQ(r.version, v2);
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(production.current(), nullptr);

  promote(v3);
  r = production.refresh();
  EXPECT_EQ(r.change, Change::kLoaded);
  EXPECT_EQ(r.version, v3);
  EXPECT_EQ(r.previous_version, std::nullopt);
  EXPECT_TRUE(production.describe()["error"].is_null());
  expect_close(predictions(*production.current()), second_expected_, kTolerance);

  // An artifact changed on disk after promotion fails its hash check.
  registry_->rollback(kModel, v1, {"test", "back to one", {}});
  const auto stored = artifacts_->verified_path(registry_->get(kModel, v1)->artifact_sha256);
  std::filesystem::permissions(stored, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  std::ofstream(stored, std::ios::app) << "tampered";
  r = production.refresh();
  EXPECT_EQ(r.change, Change::kFailed);
  EXPECT_NE(r.error.find("unusable"), std::string::npos) << r.error;
  EXPECT_EQ(production.current(), nullptr);
}

TEST_F(ProductionModelTest, NoProductionVersionAnyMoreUnloads) {
  const int v1 = add_version(first_.model, first_.manifest);
  ProductionModel production(*registry_, kModel, batch_.layout);
  promote(v1);
  ASSERT_EQ(production.refresh().change, Change::kLoaded);
  // The registry's operations always leave a production version once there is one; an
  // operator's edit of the table may not.
  pg::PgConnection(dsn_).exec(
      "UPDATE model_versions SET status = 'archived' WHERE status = "
      "'production'");
  const RefreshResult r = production.refresh();
  EXPECT_EQ(r.change, Change::kUnloaded);
  EXPECT_EQ(r.version, std::nullopt);
  EXPECT_EQ(r.previous_version, v1);
  EXPECT_EQ(production.current(), nullptr);
  EXPECT_EQ(production.refresh().change, Change::kUnchanged);
}

// Scoring threads keep scoring while production moves back and forth: every batch is scored
// wholly by the version it was handed, never by a half-swapped one.
TEST_F(ProductionModelTest, ScoringContinuesWhileProductionMoves) {
  const int v1 = add_version(first_.model, first_.manifest);
  const int v2 = add_version(second_.model, second_.manifest);
  ProductionModel production(*registry_, kModel, batch_.layout);
  promote(v1);
  ASSERT_EQ(production.refresh().change, Change::kLoaded);

  std::atomic<bool> stop{false};
  std::atomic<int> scored{0}, wrong{0};
  std::thread scorer([&] {
    while (!stop.load()) {
      const auto loaded = production.current();
      if (!loaded) {
        wrong.fetch_add(1);
        continue;
      }
      const auto& expected = loaded->version == v1 ? first_expected_ : second_expected_;
      const auto p = predictions(*loaded);
      for (std::size_t i = 0; i < p.size(); ++i) {
        if (std::abs(p[i] - expected[i]) > kTolerance) {
          wrong.fetch_add(1);
          break;
        }
      }
      scored.fetch_add(1);
    }
  });
  for (int round = 0; round < 3; ++round) {
    promote(v2);
    EXPECT_EQ(production.refresh().version, v2);
    registry_->rollback(kModel, v1, {"test", "back", {}});
    EXPECT_EQ(production.refresh().version, v1);
  }
  // Let the scoring thread finish at least one batch after the last swap.
  const int seen = scored.load();
  while (scored.load() < seen + 2) std::this_thread::yield();
  stop = true;
  scorer.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GE(scored.load(), 2);
}

}  // namespace
}  // namespace ctd::scoring
