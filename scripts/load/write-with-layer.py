#!/usr/bin/env python3
"""Project PATCH latency while a 30 000-point uploaded layer is stored (each write rebuilds the read model).

    scripts/load/write-with-layer.py PORT PROVINCE_TOKEN [ROUNDS=6]

Uploads collection `big` (30 000 random points over Liaoning) with PUT, then PATCHes one project ROUNDS times
and prints each write's wall time in seconds. Talks to 127.0.0.1 only.
"""
import json
import random
import sys
import time
import urllib.request

port, token = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 6
random.seed(1)
layer = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"n": i, "name": f"p{i}"},
            "geometry": {"type": "Point", "coordinates": [121 + random.random() * 3, 39 + random.random() * 3]},
        }
        for i in range(30000)
    ],
}


def send(method, path, body, content_type):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    t = time.time()
    with urllib.request.urlopen(req) as r:
        r.read()
    return time.time() - t


print("PUT /collections/big (30 000 points): %.3f s" % send("PUT", "/collections/big", json.dumps(layer).encode(), "application/geo+json"))
times = []
for i in range(rounds):
    patch = json.dumps({"properties": {"note": f"x{i}"}}).encode()
    times.append(send("PATCH", "/collections/projects/items/xudabao-nuclear-power-plant", patch, "application/merge-patch+json"))
print("PATCH a project:", " ".join("%.3f" % t for t in times), "s")
