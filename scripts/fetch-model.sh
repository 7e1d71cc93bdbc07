#!/usr/bin/env bash
# Puts the YOLOv5 ONNX model at models/yolov5n.onnx: copied from ../shared/models when present.
# The model is AGPL-3.0 (Ultralytics) and is never committed to this repository.
set -euo pipefail
dest=${1:-models/yolov5n.onnx}
src=${EDGECAM_SHARED:-../shared}/models/yolov5n.onnx
[ -s "$dest" ] && exit 0
if [ -s "$src" ]; then
  mkdir -p "$(dirname "$dest")"
  cp "$src" "$dest"
  echo "deps: model copied from $src to $dest" >&2
  exit 0
fi
cat >&2 <<MSG
deps: no model at $dest and none at $src.
  Put a YOLOv5 ONNX export (static 640x640, output [1,25200,85]) at $dest, for example:
    python export.py --weights yolov5n.pt --include onnx --imgsz 640 --opset 12   (in ultralytics/yolov5 v7.0)
  or point EDGECAM_SHARED at a folder holding models/yolov5n.onnx.
MSG
exit 1
