// Compiles trigger.h on its own, so that it stays self-contained.
#include "triggers/trigger.h"
