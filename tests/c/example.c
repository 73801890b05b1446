#include <stdio.h>
#include <stdlib.h>

#include "tmlp/tmlp.h"

static int on_epoch(void* user, size_t epoch, double train_loss, double valid_loss,
                    double valid_metric) {
  (void)user;
  printf("epoch %zu: loss %.4f, valid loss %.4f, accuracy %.3f\n", epoch, train_loss, valid_loss,
         valid_metric);
  return 1; /* 0 stops training after this epoch */
}

int main(int argc, char** argv) {
  char options[1024];
  tmlp_model* model = NULL;
  tmlp_dataset* data = NULL;
  tmlp_fit_report report;
  size_t k = 0;
  float* proba = NULL;
  int rc = 1;
  if (argc != 2) return 2;
  snprintf(options, sizeof options,
           "{\"data\": \"%s\", \"target\": \"target_species\", \"layers\": [32, 16], "
           "\"epochs\": 40, \"batch_size\": 16, \"lr\": 0.01, \"seed\": 1}",
           argv[1]);
  if (tmlp_train_file(options, on_epoch, NULL, &model, &report) != TMLP_OK) goto done;
  if (tmlp_model_save(model, "iris.tmlp") != TMLP_OK) goto done;
  /* Predict from a table: a CSV or .tmlpd file with the training columns. */
  if (tmlp_dataset_open(argv[1], model, &data) != TMLP_OK) goto done;
  if (tmlp_model_n_predictions(model, &k) != TMLP_OK) goto done;
  proba = malloc(tmlp_dataset_n_rows(data) * k * sizeof(float));
  if (proba == NULL) goto done;
  if (tmlp_model_predict_dataset(model, data, proba, tmlp_dataset_n_rows(data) * k) != TMLP_OK)
    goto done;
  printf("%zu epochs, validation accuracy %.3f; row 1: P(class 0) = %.3f\n", report.epochs_run,
         report.valid_metric, proba[0]);
  rc = report.valid_metric >= 0.9 ? 0 : 1;
done:
  if (rc != 0 && *tmlp_last_error()) fprintf(stderr, "error: %s\n", tmlp_last_error());
  free(proba);
  tmlp_dataset_free(data);
  tmlp_model_free(model);
  return rc;
}
