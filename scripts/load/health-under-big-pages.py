#!/usr/bin/env python3
"""/health while big pages are made: N clients each ask /collections/counties/items?limit=1000 with a new bbox
every time (so no cache answers), Accept-Encoding ENC (identity: none) and EXTRA added to the query (e.g.
crs=http://www.opengis.net/def/crs/EPSG/0/4549) for 15 s, while /health is polled every 50 ms, all on
127.0.0.1:PORT of a running server. Prints /health's median, p95 and max and the status counts of the pages.
    python3 scripts/load/health-under-big-pages.py PORT [N=16] [ENC=br] [EXTRA=]
"""
import http.client
import statistics
import sys
import threading
import time

port = int(sys.argv[1]); n = int(sys.argv[2]) if len(sys.argv) > 2 else 16; enc = sys.argv[3] if len(sys.argv) > 3 else "br"; secs = 15
extra = "&" + sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else ""
def req(m,p,h={}):
    c=http.client.HTTPConnection('127.0.0.1',port,timeout=60); t=time.time()
    try: c.request(m,p,None,{'Connection':'close',**h}); r=c.getresponse(); b=r.read(); return r.status,time.time()-t
    except Exception as e: return repr(e)[:40],time.time()-t
end=time.time()+secs; hl=[]; codes={}
def health():
    while time.time()<end:
        s,dt=req('GET','/health'); hl.append(dt*1000); time.sleep(0.05)
def atk(i):
    k=0
    while time.time()<end:
        k+=1; s,_=req('GET',f'/collections/counties/items?limit=1000&bbox=100,30,130.{i:03d}{k:04d},60{extra}',{'Accept-Encoding':enc}); codes[s]=codes.get(s,0)+1
ts=[threading.Thread(target=health)]+[threading.Thread(target=atk,args=(i,)) for i in range(n)]
[t.start() for t in ts];[t.join() for t in ts]
hl.sort(); print(f"{n} clients {enc}: health n={len(hl)} median {statistics.median(hl):.0f} ms p95 {hl[int(len(hl)*0.95)]:.0f} ms max {hl[-1]:.0f} ms; answers {codes}")
