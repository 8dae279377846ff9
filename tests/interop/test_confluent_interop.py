"""Interop proof: Confluent's own Python clients and Aisle read each other's records.

Against a real broker (AISLE_TEST_KAFKA) and `aisle registry serve` on the Kafka runtime:
1. Aisle writes SalesRecords (`aisle topic produce`); confluent-kafka's AvroDeserializer, using
   SchemaRegistryClient against Aisle's registry, reads exactly those values, keys and partitions.
2. confluent-kafka's AvroSerializer writes ShoppingCartObjects (registering the schema through
   Aisle's registry); `aisle topic dump` decodes exactly those values.
"""

import json
import os
import pathlib
import socket
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

ROOT = pathlib.Path(__file__).resolve().parents[2]
AISLE = os.environ.get("AISLE_BIN", str(ROOT / "target" / "debug" / "aisle"))
BOOTSTRAP = os.environ.get("AISLE_TEST_KAFKA")

pytestmark = pytest.mark.skipif(
    not BOOTSTRAP and os.environ.get("AISLE_REQUIRE_KAFKA") != "1",
    reason="set AISLE_TEST_KAFKA (scripts/kafka-up prints it)",
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aisle(*args, stdin=None, check=True):
    cmd = [AISLE, "--kafka", BOOTSTRAP, *args]
    out = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def registry_url():
    assert BOOTSTRAP, "AISLE_REQUIRE_KAFKA=1 but AISLE_TEST_KAFKA is not set"
    port = free_port()
    proc = subprocess.Popen(
        [AISLE, "--kafka", BOOTSTRAP, "registry", "serve", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"registry exited {proc.returncode}: {proc.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("registry did not start listening within 60 s")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def topic_name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def consume_all(topic, count, deserializer, timeout=60):
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": topic_name("interop"),
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    got = []
    deadline = time.time() + timeout
    try:
        while len(got) < count and time.time() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            ctx = SerializationContext(topic, MessageField.VALUE)
            got.append(
                (msg.partition(), msg.key().decode(), deserializer(msg.value(), ctx), msg.timestamp()[1])
            )
    finally:
        consumer.close()
    return got


def test_confluent_reads_what_aisle_wrote(registry_url):
    topic = topic_name("interop-sales")
    aisle("topic", "create", topic, "--partitions", "10")
    rows = []
    for i, store in enumerate(["CA_1", "TX_2", "WI_3"]):
        rows.append(
            {
                "key": f"FOODS_3_{i:03d}_{store}",
                "timestamp": 1_456_790_400_000 + i * 86_400_000,
                "value": {
                    "item_id": f"FOODS_3_{i:03d}",
                    "dept_id": "FOODS_3",
                    "cat_id": "FOODS",
                    "store_id": store,
                    "state_id": store[:2],
                    "day": 1914 + i,
                    "sold": i * 3,
                    "sell_price": None if i == 0 else {"float": 2.5 + i},
                },
            }
        )
    stdin = "".join(json.dumps(r) + "\n" for r in rows)
    aisle(
        "--registry", registry_url,
        "topic", "produce", topic, "--schema", str(ROOT / "schemas" / "sales_record.avsc"),
        stdin=stdin,
    )
    deser = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    got = consume_all(topic, len(rows), deser)
    assert len(got) == len(rows), got
    by_key = {k: (p, v, ts) for p, k, v, ts in got}
    for r in rows:
        part, value, ts = by_key[r["key"]]
        want = dict(r["value"])
        want["sell_price"] = None if want["sell_price"] is None else want["sell_price"]["float"]
        assert value == want
        assert ts == r["timestamp"]
    # Java-compatible key placement: Aisle's dump of the same records shows the same partitions.
    dumped = [json.loads(l) for l in aisle("topic", "dump", topic).stdout.splitlines()]
    assert {d["key"]: d["partition"] for d in dumped} == {k: p for p, k, _, _ in got}


def test_aisle_reads_what_confluent_wrote(registry_url):
    topic = topic_name("interop-cart")
    aisle("topic", "create", topic, "--partitions", "1")
    schema = (ROOT / "schemas" / "shopping_cart_object.avsc").read_text()
    ser = AvroSerializer(SchemaRegistryClient({"url": registry_url}), schema)
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    objs = [
        {
            "timestamp": 1_700_000_000_000 + i,
            "image_name": f"cart_{i}.jpg",
            "class_id": 44,
            "class_name": name,
            "score": 0.875,
            "box_x": 10 * i,
            "box_y": 20,
            "box_w": 30,
            "box_h": 40,
            "store_id": "CA_1" if i % 2 else None,
            "cart_id": None,
            "camera_id": None,
        }
        for i, name in enumerate(["cup", "sports ball", "frisbee"])
    ]
    for o in objs:
        ctx = SerializationContext(topic, MessageField.VALUE)
        producer.produce(topic, key=o["class_name"].encode(), value=ser(o, ctx))
    assert producer.flush(30) == 0

    dumped = [json.loads(l) for l in aisle("topic", "dump", topic).stdout.splitlines()]
    assert [d["key"] for d in dumped] == [o["class_name"] for o in objs]
    for d, o in zip(dumped, objs):
        v = d["value"]
        assert v["class_name"] == o["class_name"]
        assert v["image_name"] == o["image_name"]
        assert v["box_x"] == o["box_x"] and v["box_h"] == o["box_h"]
        assert abs(v["score"] - o["score"]) < 1e-6
        # Avro JSON encoding of a union, as kafka-avro-console-consumer prints it.
        assert v["store_id"] == ({"string": "CA_1"} if o["store_id"] else None)
