// The flags of `tmlp train` (the table of train_options.hpp) registered with CLI11, and the
// --config JSON file whose keys are the same flags.
//
//     tmlp::train_options o;
//     CLI::App* train = tmlp::cli::add_train_command(app, o);
//     app.parse(argc, argv);  // o now holds the command line, completed from --config FILE
//
// Values are only stored here; train_setup.hpp turns them into library configs and checks them.
#pragma once

#include <string>

#include "tmlp/train_options.hpp"

namespace CLI {
class App;
}

namespace tmlp::cli {

// Adds the `train` subcommand with every flag of train_flags() to app. Once the subcommand is
// parsed, the --config file (if any) fills each option not given on the command line, --target
// is checked to be present and --valid-fraction not to be given with --valid; a problem throws
// tmlp::error (an unknown key names it and the file) out of app.parse(). o must outlive app.
CLI::App* add_train_command(CLI::App& app, train_options& o);

// Fills the options of `train` (a parsed subcommand) that the command line left unset from the
// JSON object in `path`: keys are the names of train_flags() with '-' or '_' ("batch-size",
// "batch_size"; not the positional DATA, not "config"), values strings, numbers, booleans or
// arrays (joined with ',' for a single-value flag).
void merge_config_file(CLI::App& train, const std::string& path);

}  // namespace tmlp::cli
