/* The C API (tmlp/tmlp.h) from a C99 program: trains on the bundled datasets, checks the
 * accuracy, saves and loads, and goes through the error paths, each with its status and a
 * message. Usage: tmlp_c_test DATA_DIR SCRATCH_DIR [MODEL], MODEL: the file `tmlp train` writes
 * for the options of train_on_file (the same bytes must come out of tmlp_model_save). Exits 0 if
 * every check passes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmlp/tmlp.h"

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

/* A call that must fail with `expected` and leave a one-line message. */
static void expect_status(tmlp_status got, tmlp_status expected, const char* what) {
  const char* message = tmlp_last_error();
  if (got != expected || message == NULL || message[0] == '\0' || strchr(message, '\n')) {
    fprintf(stderr, "%s: got %s (\"%s\"), expected %s with a message\n", what,
            tmlp_status_name(got), message ? message : "(null)", tmlp_status_name(expected));
    ++failures;
  } else {
    printf("ok: %s: %s: %s\n", what, tmlp_status_name(got), message);
  }
}

static int expect_ok(tmlp_status got, const char* what) {
  if (got != TMLP_OK || tmlp_last_error()[0] != '\0') {
    fprintf(stderr, "%s: %s: %s\n", what, tmlp_status_name(got), tmlp_last_error());
    ++failures;
    return 0;
  }
  return 1;
}

static void join(char* out, size_t size, const char* dir, const char* file) {
  snprintf(out, size, "%s/%s", dir, file);
}

/* The iris file as features (150 x 4) and class indices; returns the row count. */
static size_t read_iris(const char* path, float* x, float* y, size_t max_rows) {
  FILE* f = fopen(path, "r");
  char line[256];
  size_t n = 0;
  if (f == NULL || fgets(line, sizeof line, f) == NULL) return 0; /* header */
  while (n < max_rows && fgets(line, sizeof line, f) != NULL) {
    float* r = x + 4 * n;
    if (sscanf(line, "%f,%f,%f,%f,%f", &r[0], &r[1], &r[2], &r[3], &y[n]) == 5) ++n;
  }
  fclose(f);
  return n;
}

/* The last field of each data line of a CSV file, as integers. */
static size_t read_last_column(const char* path, int* labels, size_t max_rows) {
  static char line[1 << 14];
  FILE* f = fopen(path, "r");
  size_t n = 0;
  if (f == NULL || fgets(line, sizeof line, f) == NULL) return 0;
  while (n < max_rows && fgets(line, sizeof line, f) != NULL) {
    const char* comma = strrchr(line, ',');
    if (comma != NULL) labels[n++] = atoi(comma + 1);
  }
  fclose(f);
  return n;
}

/* 1 if the two files hold the same bytes. */
static int same_bytes(const char* a, const char* b) {
  FILE* fa = fopen(a, "rb");
  FILE* fb = fopen(b, "rb");
  int same = fa != NULL && fb != NULL, ca = 0, cb = 0;
  while (same && ca != EOF) {
    ca = fgetc(fa);
    cb = fgetc(fb);
    same = ca == cb;
  }
  if (fa != NULL) fclose(fa);
  if (fb != NULL) fclose(fb);
  return same;
}

struct epochs_seen {
  size_t calls, stop_after;
  double last_metric;
};

static int on_epoch(void* user, size_t epoch, double train_loss, double valid_loss,
                    double valid_metric) {
  struct epochs_seen* s = (struct epochs_seen*)user;
  ++s->calls;
  s->last_metric = valid_metric;
  CHECK(epoch == s->calls);
  CHECK(isfinite(train_loss));
  (void)valid_loss;
  return s->stop_after == 0 || epoch < s->stop_after;
}

/* What `tmlp train` does, on breast_cancer.csv: accuracy over the file, then the same
 * predictions from the model saved and loaded again. */
static void train_on_file(const char* data_dir, const char* scratch, const char* program_model) {
  enum { max_rows = 1024 };
  static int labels[max_rows];
  static float proba[2 * max_rows], again[2 * max_rows];
  char path[1024], options[2048], saved[1024];
  tmlp_model *m = NULL, *loaded = NULL;
  tmlp_dataset* data = NULL;
  tmlp_fit_report r;
  struct epochs_seen seen = {0, 0, NAN};
  size_t k = 0, rows, i, correct = 0;
  const char* label = NULL;
  double accuracy;

  join(path, sizeof path, data_dir, "breast_cancer.csv");
  join(saved, sizeof saved, scratch, "breast_cancer.tmlp");
  snprintf(options, sizeof options,
           "{\"data\": \"%s\", \"target\": \"target_benign\", \"layers\": [32, 16], "
           "\"epochs\": 40, \"batch_size\": 32, \"seed\": 3, \"threads\": 2}",
           path);
  if (!expect_ok(tmlp_train_file(options, on_epoch, &seen, &m, &r), "tmlp_train_file")) return;
  CHECK(r.epochs_run == seen.calls && r.epochs_run >= 5);
  CHECK(r.status == TMLP_FIT_COMPLETED || r.status == TMLP_FIT_EARLY_STOPPED);
  CHECK(r.valid_metric == seen.last_metric);
  printf("breast_cancer: %zu epochs (%d), validation accuracy %.4f\n", r.epochs_run, (int)r.status,
         r.valid_metric);
  CHECK(r.valid_metric >= 0.93);

  expect_ok(tmlp_model_n_predictions(m, &k), "tmlp_model_n_predictions");
  CHECK(k == 2);
  expect_ok(tmlp_model_class_label(m, 1, &label), "tmlp_model_class_label");
  CHECK(label != NULL && strcmp(label, "1") == 0);
  expect_ok(tmlp_dataset_open(path, m, &data), "tmlp_dataset_open");
  rows = read_last_column(path, labels, max_rows);
  CHECK(rows == 569 && tmlp_dataset_n_rows(data) == rows && tmlp_dataset_n_cols(data) == 31);
  expect_ok(tmlp_model_predict_dataset(m, data, proba, 2 * max_rows), "tmlp_model_predict_dataset");
  for (i = 0; i < rows; ++i) correct += (proba[2 * i + 1] > 0.5f) == (labels[i] == 1);
  accuracy = (double)correct / (double)rows;
  printf("breast_cancer: accuracy over the file %.4f (threshold 0.95)\n", accuracy);
  CHECK(accuracy >= 0.95);

  expect_ok(tmlp_model_save(m, saved), "tmlp_model_save");
  if (program_model != NULL && same_bytes(saved, program_model)) {
    printf("ok: the model file is the one tmlp train writes, byte for byte\n");
  } else if (program_model != NULL) {
    fprintf(stderr, "%s differs from %s, written by tmlp train\n", saved, program_model);
    ++failures;
  }
  expect_ok(tmlp_model_load(saved, &loaded), "tmlp_model_load");
  expect_ok(tmlp_model_predict_dataset(loaded, data, again, 2 * max_rows),
            "tmlp_model_predict_dataset (loaded)");
  CHECK(memcmp(proba, again, 2 * rows * sizeof(float)) == 0);
  {
    /* More training on float arrays keeps the preprocessing: the table still predicts. */
    static float x[8 * 64], y[8];
    tmlp_trainer* t = NULL;
    CHECK(tmlp_model_n_inputs(loaded) == 30 && tmlp_model_n_outputs(loaded) == 1);
    expect_ok(tmlp_trainer_create("{\"epochs\": 1}", &t), "tmlp_trainer_create");
    expect_ok(tmlp_trainer_fit(t, loaded, x, 8, 30, y, 1, NULL), "tmlp_trainer_fit (loaded)");
    expect_ok(tmlp_model_predict_dataset(loaded, data, again, 2 * max_rows),
              "tmlp_model_predict_dataset (trained again)");
    CHECK(memcmp(proba, again, 2 * rows * sizeof(float)) != 0);
    tmlp_trainer_free(t);
  }
  expect_status(tmlp_model_predict_dataset(m, data, proba, 2 * rows - 1), TMLP_BAD_ARGUMENT,
                "predict_dataset into a buffer too small");
  tmlp_dataset_free(data);
  tmlp_model_free(loaded);
  tmlp_model_free(m);
}

/* A network from its JSON spec trained on float arrays (iris), then predicted. */
static void train_on_arrays(const char* data_dir) {
  static float x[4 * 200], y[200], out[3 * 200];
  const char* spec =
      "{\"n_inputs\": 4, \"layers\": [{\"units\": 16, \"activation\": \"relu\"}, "
      "{\"units\": 3, \"activation\": \"identity\"}], \"loss\": \"ce\", \"seed\": 1}";
  char path[1024];
  tmlp_model* m = NULL;
  tmlp_trainer* t = NULL;
  tmlp_fit_report r;
  size_t rows, i, correct = 0;
  double accuracy;

  join(path, sizeof path, data_dir, "iris.csv");
  rows = read_iris(path, x, y, 200);
  CHECK(rows == 150);
  if (!expect_ok(tmlp_model_create(spec, &m), "tmlp_model_create")) return;
  CHECK(tmlp_model_n_inputs(m) == 4 && tmlp_model_n_outputs(m) == 3);
  expect_ok(tmlp_trainer_create("{\"epochs\": 150, \"lr\": 0.01, \"batch-size\": 16}", &t),
            "tmlp_trainer_create");
  expect_ok(tmlp_trainer_fit(t, m, x, rows, 4, y, 1, &r), "tmlp_trainer_fit");
  CHECK(r.status == TMLP_FIT_COMPLETED && r.epochs_run == 150 && isnan(r.valid_loss));
  expect_ok(tmlp_model_predict(m, x, rows, 4, out, 3 * rows), "tmlp_model_predict");
  for (i = 0; i < rows; ++i) {
    const float* p = out + 3 * i;
    const int best = p[0] >= p[1] && p[0] >= p[2] ? 0 : (p[1] >= p[2] ? 1 : 2);
    correct += best == (int)y[i];
  }
  accuracy = (double)correct / (double)rows;
  printf("iris (arrays): training accuracy %.4f (threshold 0.90)\n", accuracy);
  CHECK(accuracy >= 0.90);

  expect_status(tmlp_model_predict(m, x, rows, 5, out, 3 * rows), TMLP_INVALID_ARGUMENT,
                "predict with 5 columns for 4 inputs");
  expect_status(tmlp_model_predict(m, x, rows, 4, out, 3 * rows - 1), TMLP_BAD_ARGUMENT,
                "predict into a buffer too small");
  expect_status(tmlp_trainer_fit(t, m, x, rows, 3, y, 1, &r), TMLP_INVALID_DATA,
                "fit with 3 columns for 4 inputs");
  expect_status(tmlp_model_n_predictions(m, &i), TMLP_INVALID_ARGUMENT,
                "n_predictions of a model without preprocessing");
  tmlp_trainer_free(t);
  tmlp_model_free(m);
}

/* A callback that returns 0 after epoch 3 ends training there, with the model usable. */
static void stop_from_callback(const char* data_dir) {
  char path[1024], options[2048];
  tmlp_model* m = NULL;
  tmlp_fit_report r;
  struct epochs_seen seen = {0, 3, NAN};

  join(path, sizeof path, data_dir, "iris.csv");
  snprintf(options, sizeof options,
           "{\"data\": \"%s\", \"target\": -1, \"layers\": \"8\", \"epochs\": 50}", path);
  if (!expect_ok(tmlp_train_file(options, on_epoch, &seen, &m, &r), "train, stopped")) return;
  CHECK(r.status == TMLP_FIT_STOPPED_BY_CALLBACK && r.epochs_run == 3 && seen.calls == 3);
  CHECK(!isnan(r.valid_metric) && r.valid_metric == seen.last_metric);
  printf("ok: the callback stopped training after epoch %zu\n", r.epochs_run);
  tmlp_model_free(m);
}

/* Each failure: its status, a message, no handle. */
static void error_paths(const char* data_dir, const char* scratch) {
  char path[1024], options[2048], bad_file[1024];
  float x[4] = {0}, out[3] = {0};
  tmlp_model* m = (tmlp_model*)&m; /* not NULL: a failure must set it to NULL */
  tmlp_trainer* t = NULL;
  tmlp_dataset* d = NULL;
  tmlp_fit_report r;
  FILE* f;

  expect_status(tmlp_model_create("{\"n_inputs\": 4, \"layers\": [", &m), TMLP_INVALID_ARGUMENT,
                "model from invalid JSON");
  CHECK(m == NULL);
  expect_status(tmlp_model_create("{\"n_inputs\": 4, \"layers\": [{\"units\": 0}], "
                                  "\"loss\": \"mse\"}",
                                  &m),
                TMLP_INVALID_ARGUMENT, "model with a layer of 0 units");
  expect_status(tmlp_model_create(NULL, &m), TMLP_BAD_ARGUMENT, "model from a NULL spec");
  expect_status(tmlp_model_create("{}", NULL), TMLP_BAD_ARGUMENT, "model into NULL");

  join(path, sizeof path, scratch, "no_such_model.tmlp");
  expect_status(tmlp_model_load(path, &m), TMLP_IO, "load a missing file");
  CHECK(m == NULL);
  join(bad_file, sizeof bad_file, scratch, "not_a_model.tmlp");
  f = fopen(bad_file, "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs("TMLPMODL and then nothing that fits", f);
    fclose(f);
  }
  expect_status(tmlp_model_load(bad_file, &m), TMLP_CORRUPT_MODEL, "load a corrupt file");
  join(path, sizeof path, scratch, "no_such.csv");
  expect_status(tmlp_dataset_open(path, NULL, &d), TMLP_IO, "open a missing dataset");
  CHECK(d == NULL);

  snprintf(options, sizeof options, "{\"data\": \"%s\", \"target\": \"y\"}", path);
  expect_status(tmlp_train_file(options, NULL, NULL, &m, &r), TMLP_IO, "train on a missing file");
  join(path, sizeof path, data_dir, "iris.csv");
  snprintf(options, sizeof options, "{\"data\": \"%s\", \"target\": \"nope\"}", path);
  expect_status(tmlp_train_file(options, NULL, NULL, &m, &r), TMLP_INVALID_DATA,
                "train with a target that is not a column");
  snprintf(options, sizeof options, "{\"data\": \"%s\", \"target\": -1, \"lr\": -1}", path);
  expect_status(tmlp_train_file(options, NULL, NULL, &m, &r), TMLP_INVALID_ARGUMENT,
                "train with a negative lr");
  expect_status(tmlp_train_file("{\"data\": \"x.csv\", \"target\": \"y\", \"colour\": 1}", NULL,
                                NULL, &m, &r),
                TMLP_INVALID_ARGUMENT, "train with an unknown option");
  expect_status(tmlp_train_file("{\"data\": \"x.csv\", \"epochs\": \"ten\"}", NULL, NULL, &m, &r),
                TMLP_INVALID_ARGUMENT, "train with a text for a number");
  expect_status(tmlp_train_file("{\"data\": \"x.csv\", \"target\": \"y\", \"log\": \"l\"}", NULL,
                                NULL, &m, &r),
                TMLP_UNSUPPORTED, "train with a program option");
  expect_status(tmlp_train_file("[1, 2]", NULL, NULL, &m, &r), TMLP_INVALID_ARGUMENT,
                "train with options that are not an object");
  CHECK(m == NULL);

  expect_status(tmlp_trainer_create("{\"layers\": \"8\"}", &t), TMLP_INVALID_ARGUMENT,
                "trainer with a model option");
  CHECK(t == NULL);
  expect_status(tmlp_trainer_fit(NULL, NULL, x, 1, 4, x, 1, &r), TMLP_BAD_ARGUMENT,
                "fit with NULL handles");
  expect_status(tmlp_trainer_set_callback(NULL, on_epoch, NULL), TMLP_BAD_ARGUMENT,
                "callback on a NULL trainer");
  expect_status(tmlp_model_predict(NULL, x, 1, 4, out, 3), TMLP_BAD_ARGUMENT,
                "predict with a NULL model");
  expect_status(tmlp_model_save(NULL, bad_file), TMLP_BAD_ARGUMENT, "save a NULL model");
  expect_status(tmlp_model_predict_dataset(NULL, NULL, out, 3), TMLP_BAD_ARGUMENT,
                "predict a NULL dataset");
  CHECK(tmlp_model_n_inputs(NULL) == 0 && tmlp_dataset_n_rows(NULL) == 0);
  tmlp_model_free(NULL);
  tmlp_trainer_free(NULL);
  tmlp_dataset_free(NULL);
}

/* A save into a directory that does not exist fails with TMLP_IO. */
static void failed_save(const char* scratch) {
  char dir_path[1024];
  tmlp_model* m = NULL;
  join(dir_path, sizeof dir_path, scratch, "no_such_dir/m.tmlp");
  if (!expect_ok(tmlp_model_create("{\"n_inputs\": 2, \"layers\": [{\"units\": 1}], "
                                   "\"loss\": \"mse\"}",
                                   &m),
                 "tmlp_model_create"))
    return;
  expect_status(tmlp_model_save(m, dir_path), TMLP_IO, "save into a missing directory");
  tmlp_model_free(m);
}

static long file_size(const char* path) {
  FILE* f = fopen(path, "rb");
  long n = -1;
  if (f != NULL && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  if (f != NULL) fclose(f);
  return n;
}

/* ONNX export of a model with a hashed column (telco, --one-hot-max 2): it needs levels_from,
 * says what it cannot express, writes the same bytes twice, and fails cleanly on bad options.
 * The files themselves are checked against ONNX Runtime by tests/onnx (the same library call). */
static void export_onnx(const char* data_dir, const char* scratch) {
  char options[2048], data[1024], out[1024], again[1024], bad[1024];
  tmlp_model* m = NULL;
  const char* notice = NULL;
  join(data, sizeof data, data_dir, "telco_churn.csv");
  join(out, sizeof out, scratch, "telco.onnx");
  join(again, sizeof again, scratch, "telco_again.onnx");
  join(bad, sizeof bad, scratch, "bad.onnx");
  snprintf(options, sizeof options,
           "{\"data\": \"%s\", \"target\": \"target_churn\", \"epochs\": 1, "
           "\"one-hot-max\": 2, \"layers\": \"8\"}",
           data);
  if (!expect_ok(tmlp_train_file(options, NULL, NULL, &m, NULL), "train for the export")) return;
  if (!tmlp_onnx_available()) {
    expect_status(tmlp_model_export_onnx(m, out, NULL, &notice), TMLP_UNSUPPORTED,
                  "export without ONNX in the build");
    CHECK(file_size(out) < 0 && notice != NULL && notice[0] == '\0');
    tmlp_model_free(m);
    return;
  }
  expect_status(tmlp_model_export_onnx(m, bad, NULL, &notice), TMLP_INVALID_ARGUMENT,
                "export of hashed columns without levels_from");
  CHECK(strstr(tmlp_last_error(), "levels") != NULL && file_size(bad) < 0);
  snprintf(options, sizeof options, "{\"levels_from\": \"%s\"}", data);
  if (expect_ok(tmlp_model_export_onnx(m, out, options, &notice), "export with levels_from")) {
    CHECK(notice != NULL && strstr(notice, "hashed") != NULL && strchr(notice, '\n') == NULL);
    CHECK(file_size(out) > 1000);
  }
  if (expect_ok(tmlp_model_export_onnx(m, again, options, NULL), "export again"))
    CHECK(same_bytes(out, again));
  if (expect_ok(
          tmlp_model_export_onnx(m, again, "{\"features_only\": true, \"batch\": 1}", &notice),
          "export features only"))
    CHECK(notice[0] == '\0' && file_size(again) > 1000 && !same_bytes(out, again));
  expect_status(tmlp_model_export_onnx(m, bad, "{\"opset\": 12}", NULL), TMLP_UNSUPPORTED,
                "export at opset 12");
  expect_status(tmlp_model_export_onnx(m, bad, "{\"opset\": \"17\"}", NULL), TMLP_INVALID_ARGUMENT,
                "an opset as text");
  expect_status(tmlp_model_export_onnx(m, bad, "{\"opst\": 17}", NULL), TMLP_INVALID_ARGUMENT,
                "an unknown export option");
  expect_status(tmlp_model_export_onnx(m, bad, "[1]", NULL), TMLP_INVALID_ARGUMENT,
                "export options that are not an object");
  expect_status(tmlp_model_export_onnx(NULL, bad, NULL, NULL), TMLP_BAD_ARGUMENT,
                "export a NULL model");
  CHECK(file_size(bad) < 0);
  tmlp_model_free(m);
}

/* An ensemble through the JSON options: predictions are kept through a save and a load, the
 * probabilities are the members' mean, a trainer refuses it, and 0 members is an error. */
static void train_ensemble(const char* data_dir, const char* scratch) {
  enum { rows = 569 };
  static float proba[2 * rows], again[2 * rows];
  char path[1024], options[2048], saved[1024];
  tmlp_model *m = NULL, *loaded = NULL;
  tmlp_dataset* data = NULL;
  tmlp_trainer* t = NULL;
  tmlp_fit_report r;
  static float x[30], y[1];
  size_t i;
  int sums_to_one = 1;

  join(path, sizeof path, data_dir, "breast_cancer.csv");
  join(saved, sizeof saved, scratch, "ensemble.tmlp");
  snprintf(options, sizeof options,
           "{\"data\": \"%s\", \"target\": \"target_benign\", \"layers\": [16], "
           "\"epochs\": 3, \"ensemble\": 3, \"threads\": 2}",
           path);
  if (!expect_ok(tmlp_train_file(options, NULL, NULL, &m, &r), "train an ensemble")) return;
  expect_ok(tmlp_dataset_open(path, m, &data), "tmlp_dataset_open (ensemble)");
  expect_ok(tmlp_model_predict_dataset(m, data, proba, 2 * rows), "predict with an ensemble");
  for (i = 0; i < rows; ++i) sums_to_one &= fabsf(proba[2 * i] + proba[2 * i + 1] - 1.0f) < 1e-6f;
  CHECK(sums_to_one);
  expect_ok(tmlp_model_save(m, saved), "save an ensemble");
  expect_ok(tmlp_model_load(saved, &loaded), "load an ensemble");
  expect_ok(tmlp_model_predict_dataset(loaded, data, again, 2 * rows), "predict (loaded)");
  CHECK(memcmp(proba, again, sizeof proba) == 0);
  expect_ok(tmlp_trainer_create("{\"epochs\": 1}", &t), "tmlp_trainer_create");
  expect_status(tmlp_trainer_fit(t, loaded, x, 1, 30, y, 1, NULL), TMLP_UNSUPPORTED,
                "a trainer on an ensemble");
  CHECK(strstr(tmlp_last_error(), "ensemble of 3 members") != NULL);
  tmlp_trainer_free(t);
  tmlp_dataset_free(data);
  tmlp_model_free(loaded);
  tmlp_model_free(m);
  m = NULL;
  snprintf(options, sizeof options,
           "{\"data\": \"%s\", \"target\": \"target_benign\", \"ensemble\": 0}", path);
  expect_status(tmlp_train_file(options, NULL, NULL, &m, &r), TMLP_INVALID_ARGUMENT,
                "an ensemble of 0 members");
}

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: %s DATA_DIR SCRATCH_DIR [MODEL]\n", argv[0]);
    return 2;
  }
  printf("tmlp %s\n", tmlp_version());
  train_on_file(argv[1], argv[2], argc == 4 ? argv[3] : NULL);
  train_on_arrays(argv[1]);
  stop_from_callback(argv[1]);
  error_paths(argv[1], argv[2]);
  failed_save(argv[2]);
  export_onnx(argv[1], argv[2]);
  train_ensemble(argv[1], argv[2]);
  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("every check passed\n");
  return 0;
}
