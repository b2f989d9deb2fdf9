"""Times pandas parsing a FER2013 CSV, the baseline for bench/ingest-csv.ts.

Usage: python bench/pandas_read_csv.py <csv> [--to-arrays]
Prints one JSON line: rows, read_csv seconds, and with --to-arrays also the seconds to turn the pixel strings
into a uint8 (N, 48, 48) array (the work our ingest does as well). Timing excludes interpreter start-up and imports.
"""
import json
import sys
import time

import numpy as np
import pandas as pd


def main() -> None:
    path = sys.argv[1]
    t0 = time.perf_counter()
    df = pd.read_csv(path)
    read_s = time.perf_counter() - t0
    out = {"rows": int(len(df)), "read_csv_s": round(read_s, 3)}
    if "--to-arrays" in sys.argv:
        t1 = time.perf_counter()
        pixels = np.array(df["pixels"].str.split(" ").tolist(), dtype=np.uint8).reshape(-1, 48, 48)  # (N, 48, 48)
        out["to_arrays_s"] = round(time.perf_counter() - t1, 3)
        out["pixels_shape"] = list(pixels.shape)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
