// `ctd drift`: the drift trigger's statistics as an offline report on two CSV files.
//
//   ctd drift --reference REF.csv --current CUR.csv [--features a,b] [--categorical c,d]
//             [--metric psi|js|wasserstein|ks|chi2|linf] [--threshold X] [--rule share|any]
//             [--drift-share S] [--correction none|bonferroni|bh] [--bins N]
//             [--coarse-bins N] [--sample N] [--json]
//
// Prints per feature every statistic, the deciding metric's value and threshold and whether
// it drifted, then the dataset decision (--json: one JSON document). Exit status: 0 no
// dataset drift, 1 dataset drift, 2 usage or input error (like diff). The files are streamed:
// the reference twice (a row sample places the bins, then every row is counted), the
// current once; memory is the summaries plus --sample rows of numeric values per file, the
// bounded samples of the exact KS test (docs/drift.md).
#pragma once

#include "daemon/cli.h"

namespace ctd::cli {

int drift(const Args& args);

}  // namespace ctd::cli
