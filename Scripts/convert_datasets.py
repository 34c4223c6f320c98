#!/usr/bin/env python3
"""Convert the shared CSV data sets into the package's binary data format (NHGDDATA v1).

Developer-time only: reads the original files from the --source directory and writes the
files that ship in Sources/NHGDExperiments/Resources; the product never reads the originals.
Docs/data.md specifies
the format; Sources/NHGDExperiments/Data/DatasetFile.swift reads and writes the same bytes.

Usage (from the repository root):
    python3 Scripts/convert_datasets.py --source DIR [--output Sources/NHGDExperiments/Resources]
"""
import argparse
import csv
import gzip
import os
import struct
import sys

MAGIC = b"NHGDDATA"
VERSION = 1
ELEMENT_UINT8 = 1
ELEMENT_FLOAT64 = 2
HEADER = struct.Struct("<8sIIQQIIII QQ")  # 64 bytes, little-endian
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK = 0xFFFFFFFFFFFFFFFF


def fnv1a64(data: bytes) -> int:
    """64-bit FNV-1a over the bytes of `data`."""
    h = FNV_OFFSET
    for byte in data:
        h ^= byte
        h = (h * FNV_PRIME) & MASK
    return h


def encode(name, label_names, element_type, samples, labels):
    """The bytes of one NHGDDATA v1 file. `samples` is a list of per-sample feature lists."""
    n = len(samples)
    d = len(samples[0]) if n else 0
    k = len(label_names)
    name_bytes = name.encode("utf-8")
    label_bytes = "\n".join(label_names).encode("utf-8")
    if element_type == ELEMENT_UINT8:
        features = bytearray()
        for row in samples:
            features.extend(bytes(row))
    else:
        features = bytearray()
        for row in samples:
            features.extend(struct.pack("<%dd" % d, *row))
    label_payload = struct.pack("<%dH" % n, *labels)
    payload = name_bytes + label_bytes + bytes(features) + label_payload
    header = HEADER.pack(MAGIC, VERSION, element_type, n, d, k, len(name_bytes), len(label_bytes), 0,
                         len(payload), fnv1a64(payload))
    assert len(header) == 64
    return header + payload


def read_mnist(path):
    samples, labels = [], []
    with gzip.open(path, "rt", newline="") as f:
        for line_number, row in enumerate(csv.reader(f), start=1):
            if len(row) != 785:
                raise ValueError(f"{path}:{line_number}: expected 785 fields, got {len(row)}")
            pixels = [int(v) for v in row[:784]]
            if any(p < 0 or p > 255 for p in pixels):
                raise ValueError(f"{path}:{line_number}: pixel outside 0...255")
            samples.append(pixels)
            labels.append(int(row[784]))
    return samples, labels


def read_breast_cancer(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows, columns = int(header[0]), int(header[1])
        label_names = header[2:]
        samples, labels = [], []
        for line_number, row in enumerate(reader, start=2):
            if len(row) != columns + 1:
                raise ValueError(f"{path}:{line_number}: expected {columns + 1} fields, got {len(row)}")
            samples.append([float(v) for v in row[:columns]])
            labels.append(int(row[columns]))
    if len(samples) != rows:
        raise ValueError(f"{path}: header says {rows} rows, found {len(samples)}")
    return samples, labels, label_names


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True,
                        help="directory holding mnist-5k.csv.gz and breast-cancer.csv (the originals)")
    parser.add_argument("--output", default=os.path.join(root, "Sources", "NHGDExperiments", "Resources"))
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)

    samples, labels = read_mnist(os.path.join(args.source, "mnist-5k.csv.gz"))
    mnist = encode("mnist-5k", [str(c) for c in range(10)], ELEMENT_UINT8, samples, labels)
    with open(os.path.join(args.output, "mnist-5k.nhgd"), "wb") as f:
        f.write(mnist)

    samples, labels, names = read_breast_cancer(os.path.join(args.source, "breast-cancer.csv"))
    cancer = encode("breast-cancer", names, ELEMENT_FLOAT64, samples, labels)
    with open(os.path.join(args.output, "breast-cancer.nhgd"), "wb") as f:
        f.write(cancer)
    print(f"wrote mnist-5k.nhgd ({len(mnist)} bytes), breast-cancer.nhgd ({len(cancer)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
