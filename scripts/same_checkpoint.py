#!/usr/bin/python3
"""Whether two tmlp checkpoint files hold the same training state when their bytes differ
because they were written in different checkpoint formats (format 1 stored the optimizer by its
index in tmlp::optimizer as "optimizer_kind", format 2 by name as "optimizer").

    /usr/bin/python3 scripts/same_checkpoint.py BASE.ckpt WORK.ckpt

Exit 0 and one line "format A vs B, same contents" when the formats differ and the spec,
metadata, state (the optimizer compared by name) and every float are identical; exit 1 with the
first difference otherwise (a difference within one format is always a difference: cmp decides
those). Used by scripts/same_results.sh.
"""
import json
import struct
import sys

# tmlp::optimizer's alternatives in order (include/tmlp/trainer.hpp): format 1's index.
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"]


def read(path):
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != b"TMLPCKPT" or len(b) < 40:
        sys.exit(f"{path}: not a checkpoint file")
    version, _ = struct.unpack("<II", b[8:16])
    n_json, n_floats = struct.unpack("<QQ", b[16:32])
    header = json.loads(b[32:32 + n_json])
    floats = b[32 + n_json:32 + n_json + 4 * n_floats]
    state = dict(header.get("state", {}))
    if "optimizer_kind" in state:
        state["optimizer"] = OPTIMIZERS[state.pop("optimizer_kind")]
    header["state"] = state
    return version, header, floats


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: same_checkpoint.py BASE.ckpt WORK.ckpt")
    (va, ha, fa), (vb, hb, fb) = read(sys.argv[1]), read(sys.argv[2])
    if va == vb:
        print(f"both format {va}: the bytes differ")
        return 1
    for key in sorted(set(ha) | set(hb)):
        if ha.get(key) != hb.get(key):
            print(f"format {va} vs {vb}: '{key}' differs")
            return 1
    if fa != fb:
        print(f"format {va} vs {vb}: the floats differ")
        return 1
    print(f"format {va} vs {vb}, same contents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
