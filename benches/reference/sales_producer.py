#!/usr/bin/env python3
"""Reference M5 sales producer, written the way the system Aisle replaces was: Python,
confluent-kafka with its Avro serializer (Confluent schema registry), asynchronous produce with
delivery callbacks, one process per store, a 10-partition `sales` topic (partition = store).

It generates the same shape of synthetic data as `aisle replay sales --synthetic` (3,049 items per
store, intermittent demand, prices) and prints records/s, so `aisle bench replay` has a baseline
on the same broker:

    python3 benches/reference/sales_producer.py --bootstrap 127.0.0.1:9092 \
        --registry http://127.0.0.1:8081 --topic sales-ref --records 1000000
"""

import argparse
import multiprocessing as mp
import os
import random
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

STORES = ["CA_1", "CA_2", "CA_3", "CA_4", "TX_1", "TX_2", "TX_3", "WI_1", "WI_2", "WI_3"]
DEPTS = [("HOBBIES_1", "HOBBIES", 416), ("HOBBIES_2", "HOBBIES", 149),
         ("HOUSEHOLD_1", "HOUSEHOLD", 532), ("HOUSEHOLD_2", "HOUSEHOLD", 515),
         ("FOODS_1", "FOODS", 216), ("FOODS_2", "FOODS", 398), ("FOODS_3", "FOODS", 823)]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(REPO, "schemas", "sales_record.avsc")) as f:
    SCHEMA = f.read()
D1_MS = 1_296_259_200_000


def store_process(args, store_idx, days, out):
    store = STORES[store_idx]
    registry = SchemaRegistryClient({"url": args.registry})
    serializer = AvroSerializer(registry, SCHEMA)
    producer = Producer({"bootstrap.servers": args.bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 5})
    failed = []

    def on_delivery(err, _msg):
        if err is not None:
            failed.append(err)

    rng = random.Random(store_idx)
    items = [(f"{dept}_{i:03d}", dept, cat) for dept, cat, n in DEPTS for i in range(1, n + 1)]
    prices = {item: round(rng.uniform(0.5, 20.0), 2) for item, _, _ in items}
    ctx = SerializationContext(args.topic, MessageField.VALUE)
    sent = 0
    start = time.perf_counter()
    for day in range(1, days + 1):
        for item, dept, cat in items:
            sold = 0 if rng.random() < 0.5 else int(rng.expovariate(0.5))
            value = serializer({"item_id": item, "dept_id": dept, "cat_id": cat, "store_id": store,
                                "state_id": store[:2], "day": day, "sold": sold,
                                "sell_price": prices[item]}, ctx)
            while True:
                try:
                    producer.produce(args.topic, key=f"{item}_{store}", value=value,
                                     partition=store_idx, timestamp=D1_MS + (day - 1) * 86_400_000,
                                     on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.01)
            producer.poll(0)
            sent += 1
    producer.flush()
    out.put((sent, time.perf_counter() - start, len(failed)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--registry", required=True)
    p.add_argument("--topic", default="sales-reference")
    p.add_argument("--records", type=int, default=1_000_000)
    args = p.parse_args()
    days = max(1, -(-args.records // 30_490))
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    for f in admin.create_topics([NewTopic(args.topic, 10, 1)]).values():
        try:
            f.result()
        except Exception as e:  # already exists is fine
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise
    out = mp.Queue()
    start = time.perf_counter()
    procs = [mp.Process(target=store_process, args=(args, s, days, out)) for s in range(10)]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    secs = time.perf_counter() - start
    sent = sum(r[0] for r in results)
    failed = sum(r[2] for r in results)
    print(f"reference python {sent / secs:12.0f} records/s  ({sent} records in {secs:.2f} s, "
          f"{failed} failed deliveries, 10 processes)")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
