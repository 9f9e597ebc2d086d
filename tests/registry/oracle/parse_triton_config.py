#!/usr/bin/python3
"""Parses a Triton config.pbtxt against triton_model_config.proto (beside this file) with
protobuf's strict text-format parser and prints the message as JSON on stdout.

Usage: parse_triton_config.py CONFIG_PBTXT

Exits non-zero, with protobuf's error on stderr, when the text does not parse: an unknown
field, an unknown enum value, a wrong type or bad syntax. Needs Debian's protobuf-compiler
(protoc) and python3-protobuf (scripts/setup installs both).
"""
import importlib
import json
import os
import subprocess
import sys
import tempfile

from google.protobuf import json_format, text_format


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory(prefix="ctd-triton-proto-") as generated:
        subprocess.run(["protoc", "--proto_path=" + here, "--python_out=" + generated,
                        "triton_model_config.proto"], check=True)
        sys.path.insert(0, generated)
        schema = importlib.import_module("triton_model_config_pb2")
        with open(sys.argv[1], encoding="utf-8") as f:
            text = f.read()
    config = schema.ModelConfig()
    # Parse (not Merge): a field given twice is an error too; unknown fields always are.
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as e:
        sys.exit("not a valid ModelConfig: %s" % e)
    print(json.dumps(json_format.MessageToDict(config, preserving_proto_field_name=True),
                     sort_keys=True))


if __name__ == "__main__":
    main()
