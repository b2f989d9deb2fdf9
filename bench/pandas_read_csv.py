"""The pandas/numpy baselines for bench/ingest-csv.ts: a FER2013 CSV to uint8 (N, 48, 48) pixel arrays.

Usage: python bench/pandas_read_csv.py <csv> <route>
Routes (all start with pandas.read_csv, the C tokenizer):
  read_csv    parse the file only: the pixel column stays strings (less than our ingest does)
  fromstring  one np.fromstring(' '.join(column), sep=' ') for the whole file: numpy's C text parser, the fastest
              route found to the arrays
  join-split  one np.array(' '.join(column).split(), dtype=np.uint8): a Python string per pixel
  rows        np.array(column.str.split().tolist(), dtype=np.uint8): a list per row, what tutorials write
Prints one JSON line: rows, read_csv seconds, conversion seconds, the array shape and a checksum (so routes can be
checked to agree). Timing excludes interpreter start-up and imports.
"""
import json
import sys
import time

import numpy as np
import pandas as pd

ROUTES = {
    "read_csv": None,
    "fromstring": lambda col: np.fromstring(" ".join(col), dtype=np.uint8, sep=" "),
    "join-split": lambda col: np.array(" ".join(col).split(), dtype=np.uint8),
    "rows": lambda col: np.array(pd.Series(col).str.split().tolist(), dtype=np.uint8),
}


def main() -> None:
    path, route = sys.argv[1], sys.argv[2]
    if route not in ROUTES:
        raise SystemExit(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
    t0 = time.perf_counter()
    df = pd.read_csv(path)
    read_s = time.perf_counter() - t0
    out = {"route": route, "rows": int(len(df)), "read_csv_s": round(read_s, 3), "to_arrays_s": 0.0}
    convert = ROUTES[route]
    if convert is not None:
        t1 = time.perf_counter()
        pixels = convert(df["pixels"].tolist()).reshape(-1, 48, 48)
        out["to_arrays_s"] = round(time.perf_counter() - t1, 3)
        out["shape"] = list(pixels.shape)
        out["checksum"] = int(pixels.sum(dtype=np.uint64))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
