// tmlp: the umbrella header.
//
//     #include <tmlp/tmlp.hpp>
//     tmlp::model m = tmlp::model::create(spec);
//     tmlp::trainer(config).fit(m, x, y);
#pragma once

#include "tmlp/checkpoint.hpp"
#include "tmlp/data.hpp"
#include "tmlp/dataset.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"
#include "tmlp/matrix.hpp"
#include "tmlp/model.hpp"
#include "tmlp/preprocess.hpp"
#include "tmlp/trainer.hpp"
#include "tmlp/version.hpp"
