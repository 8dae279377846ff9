#!/usr/bin/env python3
"""Reference for `aisle bench camera`: the same detectors on ONNX Runtime's Python API.

Per image it times what Aisle times minus the produce step: read + decode (Pillow), the model's
pre-processing (numpy), inference (onnxruntime, CPU) and output decoding. Images are processed one
after another in one thread of Python (ONNX Runtime uses its own intra-op threads).

Usage: camera_onnxruntime.py --model M.onnx [--model ...] --images DIR [--rounds N] [--threads T]
       [--json] [--dump] [--serve]

--serve is how `aisle bench camera` pairs the two sides: the models are loaded and warmed up once,
then every line `N` on standard input runs one pass over the images with model N (one image at a
time) and answers one JSON line with each image's total and pre-processing times. The bench runs
an Aisle pass and a Python pass in turn, so both meet the same machine (this VM's speed drifts by
up to 2x within seconds).
Needs: pip install -r benches/reference/requirements-camera.txt (onnxruntime, pillow, numpy)
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image


def preprocess(path, kind, size):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    if kind == "deimv2":
        x = np.asarray(img.resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0
        x = x.transpose(2, 0, 1)[None]
        return {"images": x, "orig_target_sizes": np.array([[w, h]], dtype=np.int64)}, 1.0
    r = min(size / w, size / h)
    small = img.resize((int(w * r), int(h * r)), Image.BILINEAR)
    canvas = np.full((size, size, 3), 114, dtype=np.float32)
    canvas[: small.size[1], : small.size[0]] = np.asarray(small, dtype=np.float32)
    x = canvas[:, :, ::-1].transpose(2, 0, 1)[None].copy()  # BGR, 0..255
    return {"images": x}, r


def decode(kind, outputs, r, size, threshold):
    if kind == "deimv2":
        labels, boxes, scores = outputs
        keep = scores[0] >= threshold
        return [(int(l), float(s), b.tolist()) for l, s, b in zip(labels[0][keep], scores[0][keep], boxes[0][keep])]
    rows = outputs[0][0]
    grids, strides = [], []
    for s in (8, 16, 32):
        g = size // s
        ys, xs = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
        grids.append(np.stack([xs, ys], -1).reshape(-1, 2))
        strides.append(np.full((g * g, 1), s))
    grids, strides = np.concatenate(grids), np.concatenate(strides)
    xy = (rows[:, :2] + grids) * strides
    wh = np.exp(rows[:, 2:4]) * strides
    cls = rows[:, 5:].argmax(1)
    score = rows[:, 4] * rows[np.arange(len(rows)), 5 + cls]
    keep = score >= threshold
    b = np.concatenate([xy - wh / 2, xy + wh / 2], 1)[keep] / r
    cls, score = cls[keep], score[keep]
    out = []
    for i in np.argsort(-score):
        if all(c != cls[i] or iou(ob, b[i]) <= 0.45 for c, _, ob in out):
            out.append((int(cls[i]), float(score[i]), b[i]))
    return [(c, s, bb.tolist()) for c, s, bb in out]


def iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def load(model, threads):
    """A session for `model` and what running it needs: kind, input size, outputs, threshold."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()
    kind = "deimv2" if len(inp) == 2 else "yolox"
    size = inp[0].shape[2]
    names = [o.name for o in sess.get_outputs()]
    if kind == "deimv2":
        names = ["labels", "boxes", "scores"]
    threshold = 0.4 if kind == "deimv2" else 0.3  # the README's, as in expected_detections.json
    return sess, kind, size, names, threshold


def serve(args, files):
    models = [load(m, args.threads) for m in args.model]
    for sess, kind, size, names, threshold in models:
        for f in files[:2]:  # warm-up
            feed, r = preprocess(f, kind, size)
            sess.run(names, feed)
    print(json.dumps({"ready": True, "onnxruntime": ort.__version__}), flush=True)
    for line in sys.stdin:
        sess, kind, size, names, threshold = models[int(line)]
        threshold = args.threshold or threshold
        total, prep = [], []
        for f in files:
            t0 = time.perf_counter()
            feed, r = preprocess(f, kind, size)
            t1 = time.perf_counter()
            decode(kind, sess.run(names, feed), r, size, threshold)
            t2 = time.perf_counter()
            total.append(1000 * (t2 - t0))
            prep.append(1000 * (t1 - t0))
        print(json.dumps({"total_ms": total, "prep_ms": prep}), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--rounds", type=int, default=20, help="passes over the images (default 20)")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: ONNX Runtime default)")
    ap.add_argument("--json", action="store_true", help="one JSON line per model")
    ap.add_argument("--dump", action="store_true", help="print the detections of one pass and exit")
    ap.add_argument("--threshold", type=float, help="score threshold of --serve (default: the README's)")
    ap.add_argument("--serve", action="store_true", help="answer passes asked for on stdin (see above)")
    args = ap.parse_args()
    files = sorted(os.path.join(args.images, f) for f in os.listdir(args.images)
                   if f.lower().endswith((".jpg", ".jpeg", ".png")))
    if args.serve:
        return serve(args, files)
    for model in args.model:
        sess, kind, size, names, threshold = load(model, args.threads)
        if args.dump:
            for f in files:
                feed, r = preprocess(f, kind, size)
                for c, s, b in decode(kind, sess.run(names, feed), r, size, threshold):
                    print(os.path.basename(model), os.path.basename(f), c, round(s, 4), [round(v, 1) for v in b])
            continue
        for f in files[:2]:  # warm-up
            feed, r = preprocess(f, kind, size)
            sess.run(names, feed)
        lat = []
        start = time.perf_counter()
        for _ in range(args.rounds):
            for f in files:
                t0 = time.perf_counter()
                feed, r = preprocess(f, kind, size)
                decode(kind, sess.run(names, feed), r, size, threshold)
                lat.append(time.perf_counter() - t0)
        total = time.perf_counter() - start
        lat.sort()
        res = {
            "model": os.path.basename(model),
            "images": len(lat),
            "images_per_s": len(lat) / total,
            "p50_ms": 1000 * lat[len(lat) // 2],
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "onnxruntime": ort.__version__,
        }
        if args.json:
            print(json.dumps(res))
        else:
            print(f"{res['model']:<34} {res['images_per_s']:7.1f} img/s  p50 {res['p50_ms']:6.1f} ms  "
                  f"p99 {res['p99_ms']:6.1f} ms  (python onnxruntime {res['onnxruntime']})")


if __name__ == "__main__":
    sys.exit(main())
