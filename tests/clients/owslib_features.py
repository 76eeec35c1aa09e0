"""Reads a planatlas server the way Python GIS scripts do, through OWSLib's OGC API - Features client.

Usage: python3 owslib_features.py BASE_URL

Prints one JSON document of what OWSLib read (conformance classes, collection ids, the projects'
queryables, every county id met while paging with limit/offset, one region, the airport projects by a
CQL2 filter). The Rust test tests/api/clients.rs compares it with the server's own answers. Exits non-zero
if OWSLib raises.
"""

import json
import sys

from owslib.ogcapi.features import Features


def main(base: str) -> None:
    api = Features(base)
    out = {
        "conformance": sorted(api.conformance()["conformsTo"]),
        "collections": sorted(c["id"] for c in api.collections()["collections"]),
        "feature_collections": sorted(api.feature_collections()),
        "counties_collection_title": api.collection("counties")["title"],
        "projects_queryables": sorted(api.collection_queryables("projects")["properties"]),
    }
    # Page through the counties seven at a time, as a script would: limit and offset until a short page.
    ids, offset, matched = [], 0, None
    while True:
        page = api.collection_items("counties", limit=7, offset=offset)
        matched = page["numberMatched"]
        ids.extend(f["id"] for f in page["features"])
        if page["numberReturned"] < 7:
            break
        offset += 7
    out["counties_paged_ids"] = ids
    out["counties_number_matched"] = matched
    region = api.collection_item("regions", "liaodong-zone")
    out["liaodong_zone_name_zh"] = region["properties"]["name_zh"]
    airports = api.collection_items("projects", filter="category = 'airport'", limit=1000)
    out["airport_ids_by_cql2"] = sorted(f["id"] for f in airports["features"])
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1])
