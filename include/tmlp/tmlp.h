/* tmlp's C API (C99): models, training and prediction behind opaque handles, for programs and
 * languages that cannot use the C++ headers.
 *
 *     tmlp_model* m = NULL;
 *     tmlp_fit_report r;
 *     if (tmlp_train_file("{\"data\": \"train.csv\", \"target\": \"y\", \"epochs\": 20}",
 *                         NULL, NULL, &m, &r) != TMLP_OK) {
 *       fprintf(stderr, "%s\n", tmlp_last_error());
 *       return 1;
 *     }
 *     tmlp_model_save(m, "y.tmlp");   // the file `tmlp train` writes for the same options
 *     tmlp_model_free(m);
 *
 * Conventions:
 * - Every function that can fail returns a tmlp_status; TMLP_OK (0) is success. On failure,
 *   tmlp_last_error() gives the library's one-line message (the value, the place, what was
 *   expected), an output handle is set to NULL and an output buffer's contents are unspecified.
 * - No C++ exception ever leaves a function of this header; nothing is leaked on any error path.
 * - Handles are created by tmlp_*_create / _load / _open / tmlp_train_* and released by the
 *   matching tmlp_*_free (NULL is accepted there and ignored). A handle may be used by one thread
 *   at a time; different handles on different threads are independent. Const handles (predict,
 *   save, queries) may be shared between threads.
 * - Matrices are float32, row-major, rows x cols; sizes are counts of values, not bytes.
 * - Options are a JSON object whose keys are the flags of `tmlp train` (the keys of its
 *   --config file: "batch-size" or "batch_size"), e.g.
 *   {"target": "y", "layers": "64,32", "epochs": 10, "lr": 1e-3}; `tmlp train --help` lists
 *   them with their defaults.
 * - Strings are UTF-8, NUL-terminated; paths are as fopen takes them.
 */
#ifndef TMLP_TMLP_H
#define TMLP_TMLP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The outcome of a call: one value per kind of tmlp::error (tmlp/error.hpp), then the failures
 * of the C boundary itself. */
typedef enum tmlp_status {
  TMLP_OK = 0,
  TMLP_INVALID_ARGUMENT = 1, /* a spec, option or argument value out of its domain */
  TMLP_INVALID_DATA = 2,     /* data the library cannot use (or a run that diverged) */
  TMLP_IO = 3,               /* a file that cannot be opened, read or written */
  TMLP_CORRUPT_MODEL = 4,    /* a model file that fails its checks */
  TMLP_UNSUPPORTED = 5,      /* something this build or machine cannot do */
  TMLP_CANCELLED = 6,        /* a run stopped on request */
  TMLP_BAD_ARGUMENT = 7,     /* a NULL pointer, or a buffer too small for the result */
  TMLP_OUT_OF_MEMORY = 8,    /* an allocation failed */
  TMLP_INTERNAL = 9          /* a failure the library did not expect (a bug: please report) */
} tmlp_status;

/* The message of this thread's last call that returned a tmlp_status: "" if it succeeded.
 * Valid until the thread's next such call; never NULL. */
const char* tmlp_last_error(void);

/* The status's name ("TMLP_IO"); "TMLP_UNKNOWN" for a value not in the enum. Static storage. */
const char* tmlp_status_name(tmlp_status status);

/* The library's version, "MAJOR.MINOR.PATCH". Static storage. */
const char* tmlp_version(void);

typedef struct tmlp_model tmlp_model;     /* a network; with preprocessing if trained on a table */
typedef struct tmlp_trainer tmlp_trainer; /* training options for float arrays, and a callback */
typedef struct tmlp_dataset tmlp_dataset; /* a table read from a CSV or .tmlpd file */

/* Called after each epoch with the 1-based epoch, the mean training loss, the validation loss
 * and the validation metric (accuracy for classification, RMSE for regression; both NaN without
 * validation). Return nonzero to go on, 0 to stop training after this epoch. It runs on the
 * thread that called the training function. */
typedef int (*tmlp_epoch_callback)(void* user, size_t epoch, double train_loss, double valid_loss,
                                   double valid_metric);

typedef enum tmlp_fit_status {
  TMLP_FIT_COMPLETED = 0,           /* every epoch ran */
  TMLP_FIT_EARLY_STOPPED = 1,       /* validation stopped improving */
  TMLP_FIT_STOPPED_BY_CALLBACK = 2, /* the callback returned 0 */
  TMLP_FIT_CANCELLED = 3,
  TMLP_FIT_DIVERGED = 4 /* a loss turned NaN or infinite; the last finite parameters are kept */
} tmlp_fit_status;

/* What a training run did. Losses and the metric are those of the last epoch run (NaN if none,
 * or without validation). */
typedef struct tmlp_fit_report {
  tmlp_fit_status status;
  size_t epochs_run; /* counting from epoch 1 */
  size_t best_epoch; /* by validation loss (training loss without validation); 0 if none */
  double best_loss;
  double train_loss;
  double valid_loss;
  double valid_metric;
} tmlp_fit_report;

/* --- models -------------------------------------------------------------------------------- */

/* A new model from its spec as JSON (tmlp::spec_from_json, tmlp/io.hpp), e.g.
 * {"n_inputs": 4, "layers": [{"units": 16, "activation": "relu"},
 *  {"units": 3, "activation": "identity"}], "loss": "ce", "seed": 1},
 * initialized from its seed. *out: the model (NULL on failure), to free with tmlp_model_free. */
tmlp_status tmlp_model_create(const char* spec_json, tmlp_model** out);

/* Reads a model file (written by tmlp_model_save, `tmlp train` or the Python package). A file
 * of an ensemble ("ensemble": K when training) holds K members: every prediction of the handle
 * is their mean (probabilities, or values), and tmlp_trainer_fit refuses it. */
tmlp_status tmlp_model_load(const char* path, tmlp_model** out);

/* Writes the model, with its preprocessing and training metadata if it has them, to path
 * atomically: a failure leaves any previous file at path as it was. */
tmlp_status tmlp_model_save(const tmlp_model* model, const char* path);

void tmlp_model_free(tmlp_model* model);

/* The network's input and output widths (0 for a NULL model). */
size_t tmlp_model_n_inputs(const tmlp_model* model);
size_t tmlp_model_n_outputs(const tmlp_model* model);

/* The network's outputs for x (rows x cols, cols = tmlp_model_n_inputs) into out (rows x
 * tmlp_model_n_outputs; out_size >= that many floats): probabilities for bce (sigmoid) and ce
 * (softmax), values as they are for regression losses. */
tmlp_status tmlp_model_predict(const tmlp_model* model, const float* x, size_t rows, size_t cols,
                               float* out, size_t out_size);

/* For a model trained on a table (tmlp_train_file, tmlp_train_dataset, `tmlp train`): the number
 * of predictions per row of a table, the class count k for classification, 1 for regression. */
tmlp_status tmlp_model_n_predictions(const tmlp_model* model, size_t* out);

/* Class i's label (0 <= i < k) as the training data spelled it, for classification; static for
 * the model's lifetime. */
tmlp_status tmlp_model_class_label(const tmlp_model* model, size_t i, const char** out);

/* Predictions for every row of data, whose columns are the training columns (a target column
 * is ignored), into out (rows x k, out_size >= rows * k): class probabilities in the order of
 * tmlp_model_class_label, or one value per row in the target's units for regression. */
tmlp_status tmlp_model_predict_dataset(const tmlp_model* model, const tmlp_dataset* data,
                                       float* out, size_t out_size);

/* Writes the model as ONNX (tmlp/onnx.hpp) to path atomically: a failure leaves any previous
 * file at path as it was. options_json: NULL or an object with
 *   "opset": 17 to 21 (default 17);
 *   "batch": the batch dimension, a name (default "N") or a row count;
 *   "features_only": true for the network alone on preprocessed features (one float input
 *     "features", one output "outputs"); false (the default) for the whole model of a model
 *     trained on a table: one input per training column, the preprocessing inside, outputs
 *     "label" and "probabilities" or "prediction";
 *   "raw": with features_only, outputs before the sigmoid or softmax;
 *   "levels_from": a data file (the training data) whose texts of hashed categorical columns
 *     the file maps to their buckets; required when the model has such columns.
 * notice: NULL, or set to "" or to one line saying what the file cannot express exactly and
 * what it does instead (valid until this thread's next call). A build without ONNX gives
 * TMLP_UNSUPPORTED. */
tmlp_status tmlp_model_export_onnx(const tmlp_model* model, const char* path,
                                   const char* options_json, const char** notice);

/* 1 if this build exports ONNX (TMLP_WITH_ONNX), else 0. */
int tmlp_onnx_available(void);

/* --- datasets -------------------------------------------------------------------------------- */

/* Opens a CSV file (read into memory, column kinds inferred) or a .tmlpd file (memory-mapped).
 * model: NULL, or a model trained on a table whose categorical columns then stay categorical in
 * the CSV however their values look (as `tmlp predict` reads it). */
tmlp_status tmlp_dataset_open(const char* path, const tmlp_model* model, tmlp_dataset** out);

void tmlp_dataset_free(tmlp_dataset* data);

/* The table's rows and columns (0 for a NULL dataset). */
size_t tmlp_dataset_n_rows(const tmlp_dataset* data);
size_t tmlp_dataset_n_cols(const tmlp_dataset* data);

/* --- training on tables: what `tmlp train` does ---------------------------------------- */

/* Trains a new model on the file options.data (CSV or .tmlpd; options.valid: a validation
 * file) exactly as `tmlp train` does with the same options: the same model file comes out of
 * tmlp_model_save. With options.out, the model is also written there. The program's own
 * options (config, log, checkpoint, checkpoint-every, resume, quiet) are TMLP_UNSUPPORTED.
 * callback: NULL or called after each epoch (user is passed to it). report: NULL or filled.
 * A run that diverges is TMLP_INVALID_DATA, as in the program. */
tmlp_status tmlp_train_file(const char* options_json, tmlp_epoch_callback callback, void* user,
                            tmlp_model** out, tmlp_fit_report* report);

/* The same on tables already open (valid: NULL, or the validation table); options.data is not
 * read (it names the data in the model's metadata). */
tmlp_status tmlp_train_dataset(const char* options_json, const tmlp_dataset* train,
                               const tmlp_dataset* valid, tmlp_epoch_callback callback, void* user,
                               tmlp_model** out, tmlp_fit_report* report);

/* --- training on float arrays ---------------------------------------------------------- */

/* A trainer from options_json (NULL or "{}": the defaults): the training options of `tmlp train`
 * only (optimizer, lr, batch-size, epochs, schedule, l1, l2, weight-decay, clip-norm,
 * clip-value, valid-fraction, early-stop, threads, seed), with the library's defaults: 10
 * epochs, no validation, no early stopping. */
tmlp_status tmlp_trainer_create(const char* options_json, tmlp_trainer** out);

/* Sets (or, with NULL, removes) the per-epoch callback of the trainer's later fits. */
tmlp_status tmlp_trainer_set_callback(tmlp_trainer* trainer, tmlp_epoch_callback callback,
                                      void* user);

void tmlp_trainer_free(tmlp_trainer* trainer);

/* Trains model in place on x (rows x cols, cols = tmlp_model_n_inputs) and y (rows x y_cols:
 * one class index per row for ce, 0 or 1 per output for bce, values for regression). A run
 * that diverges is TMLP_OK with report->status TMLP_FIT_DIVERGED (the model keeps its last
 * finite parameters). report: NULL or filled. */
tmlp_status tmlp_trainer_fit(tmlp_trainer* trainer, tmlp_model* model, const float* x, size_t rows,
                             size_t cols, const float* y, size_t y_cols, tmlp_fit_report* report);

#ifdef __cplusplus
}
#endif

#endif /* TMLP_TMLP_H */
