#!/usr/bin/env python3
"""Checks that Confluent's own Python client speaks to an Aisle schema registry.

Usage: registry_client_check.py REGISTRY_URL [RUST_SUBJECT RUST_PAYLOAD_HEX]

Registers schemas, looks them up by id, by subject version and latest, tests compatibility and
config, then serializes and deserializes a record with AvroSerializer/AvroDeserializer (no
broker needed). If a payload written by Aisle (Rust) is given, it must deserialize to the
record {"item": "cup", "qty": 3}. Prints one JSON line for the caller: the Python-written
payload (hex) and the schema id in its header. Exits non-zero with a message on any mismatch.
"""

import json
import sys
import uuid

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

V1 = {
    "type": "record",
    "name": "Sale",
    "namespace": "io.aisle.interop",
    "fields": [{"name": "item", "type": "string"}],
}
V2 = {**V1, "fields": V1["fields"] + [{"name": "qty", "type": "int", "default": 1}]}
BAD = {**V1, "fields": V1["fields"] + [{"name": "qty", "type": "int"}]}


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def main():
    url = sys.argv[1]
    client = SchemaRegistryClient({"url": url})
    check(client.get_schema_types() == ["AVRO"], "schema types")

    subject = f"interop-{uuid.uuid4().hex[:8]}-value"
    v1 = Schema(json.dumps(V1), "AVRO")
    id1 = client.register_schema(subject, v1)
    check(isinstance(id1, int) and id1 >= 1, f"register returned an id ({id1})")
    check(client.register_schema(subject, Schema(json.dumps(V1, indent=2), "AVRO")) == id1,
          "re-registering the same schema returns the same id")

    by_id = client.get_schema(id1)
    check(json.loads(by_id.schema_str) == V1, "get_schema by id returns the schema")
    check(by_id.schema_type == "AVRO", "schema type AVRO")

    ver1 = client.get_version(subject, 1)
    check((ver1.schema_id, ver1.version, ver1.subject) == (id1, 1, subject), "get_version 1")
    looked = client.lookup_schema(subject, v1)
    check((looked.schema_id, looked.version) == (id1, 1), "lookup_schema")

    check(client.test_compatibility(subject, Schema(json.dumps(V2), "AVRO")) is True,
          "adding a field with a default is BACKWARD compatible")
    check(client.test_compatibility(subject, Schema(json.dumps(BAD), "AVRO")) is False,
          "adding a field without a default is not")
    try:
        client.register_schema(subject, Schema(json.dumps(BAD), "AVRO"))
        check(False, "registering an incompatible schema must fail")
    except SchemaRegistryError as e:
        check(e.http_status_code == 409 and e.error_code == 409, f"409 on incompatible ({e})")

    id2 = client.register_schema(subject, Schema(json.dumps(V2), "AVRO"))
    check(id2 != id1, "a new schema gets a new id")
    latest = client.get_latest_version(subject)
    check((latest.schema_id, latest.version) == (id2, 2), "latest is version 2")
    check(client.get_versions(subject) == [1, 2], "versions")
    check(subject in client.get_subjects(), "subjects list")

    check(client.set_compatibility(subject, "FULL") == {"compatibility": "FULL"}, "set subject level")
    check(client.get_compatibility(subject) == "FULL", "get subject level")
    check(client.get_compatibility() == "BACKWARD", "global level")

    try:
        client.get_schema(987654)
        check(False, "an unknown id must fail")
    except SchemaRegistryError as e:
        check(e.http_status_code == 404 and e.error_code == 40403, f"40403 on unknown id ({e})")

    # Serializer/deserializer with the topic-name strategy: subject "<topic>-value".
    topic = f"interop-{uuid.uuid4().hex[:8]}"
    ctx = SerializationContext(topic, MessageField.VALUE)
    ser = AvroSerializer(client, json.dumps(V2), conf={"auto.register.schemas": True})
    record = {"item": "sports ball", "qty": 2}
    payload = ser(record, ctx)
    check(payload[0] == 0, "Confluent magic byte")
    sid = int.from_bytes(payload[1:5], "big")
    check(sid == id2, f"serializer reused the id of the same schema ({sid} vs {id2})")
    check(client.get_latest_version(f"{topic}-value").schema_id == sid, "serializer registered the subject")
    deser = AvroDeserializer(client)
    check(deser(payload, ctx) == record, "round trip through AvroDeserializer")

    if len(sys.argv) >= 4:
        rust_subject, rust_hex = sys.argv[2], sys.argv[3]
        rust_ctx = SerializationContext(rust_subject.removesuffix("-value"), MessageField.VALUE)
        got = AvroDeserializer(client)(bytes.fromhex(rust_hex), rust_ctx)
        check(got == {"item": "cup", "qty": 3}, f"payload written by Aisle decodes ({got})")

    print(json.dumps({"schema_id": sid, "payload_hex": payload.hex(), "subject": subject}))


if __name__ == "__main__":
    main()
