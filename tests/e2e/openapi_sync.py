#!/usr/bin/env python3
"""Fail when openapi.json (embedded in the binary) is not openapi.yaml.

    openapi_sync.py SOURCE_ROOT

Regenerate with: npx @redocly/cli bundle openapi.yaml --ext json -o
openapi.json. Skipped (exit 77) when PyYAML is not installed.
"""
import json
import os
import sys

try:
    import yaml
except ImportError:
    print("skip: PyYAML is not installed")
    sys.exit(77)

root = sys.argv[1]
with open(os.path.join(root, "openapi.yaml")) as f:
    spec_yaml = yaml.safe_load(f)
with open(os.path.join(root, "openapi.json")) as f:
    spec_json = json.load(f)

if spec_yaml != spec_json:
    print("openapi.json is out of date; regenerate it with:\n"
          "  npx @redocly/cli bundle openapi.yaml --ext json "
          "-o openapi.json")
    sys.exit(1)
print("openapi.json agrees with openapi.yaml")
