#!/usr/bin/env python3
"""A monitor for an orchestra crew, in Python: prints state changes, exits and restart decisions.

Needs pyzmq and msgpack (Debian: apt-get install python3-zmq python3-msgpack).

    python3 examples/monitor.py ENDPOINT
    python3 examples/monitor.py --state-dir STATE_DIR   # reads the endpoint from supervisor.json

ENDPOINT is the bus, e.g. ipc:///run/user/1000/orchestra-1000/demo-1a2b3c4d/bus.sock (`orchestra up`
prints it). Written from docs/protocol.md alone: topics are KIND/AGENT/, payloads msgpack maps,
`seq` counts per topic (a jump is a gap), a new `run` means the supervisor restarted, and on
subscribing the current state of every agent is replayed (`replay: true`).
"""
import argparse
import json
import os
import sys

import msgpack
import zmq

KINDS = ("state/", "exit/", "restart/", "supervisor/")


def endpoint_from(state_dir):
    with open(os.path.join(state_dir, "supervisor.json")) as f:
        return json.load(f)["publish"]


def describe(msg):
    kind = msg["kind"]
    agent = msg.get("agent") or "supervisor"
    if kind == "state":
        return f"STATE {agent} {msg['from'] or 'new'} -> {msg['to']} ({msg['reason']})"
    if kind == "exit":
        how = msg["signal"] or f"code {msg['code']}"
        return f"EXIT {agent} {how} (cause {msg['cause']}, ran {msg['runMs']}ms)"
    if kind == "restart":
        if msg["action"] == "restart":
            return f"RESTART {agent} in {msg['delayMs']}ms, attempt {msg['attempt']}, {msg['budgetLeft']} left: {msg['reason']}"
        return f"GIVE-UP {agent} ({msg['why']}): {msg['reason']}"
    if kind == "supervisor":
        return f"SUPERVISOR {msg['event']} pid {msg['pid']} session {msg['session']}"
    return f"{kind.upper()} {agent}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint", nargs="?")
    parser.add_argument("--state-dir")
    args = parser.parse_args()
    endpoint = args.endpoint or (args.state_dir and endpoint_from(args.state_dir))
    if not endpoint:
        parser.error("give the bus ENDPOINT or --state-dir")

    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    for prefix in KINDS:
        sock.setsockopt_string(zmq.SUBSCRIBE, prefix)

    last_seq = {}
    run = None
    try:
        while True:
            topic, payload = sock.recv_multipart()
            msg = msgpack.unpackb(payload, raw=False)
            if run is not None and msg["run"] != run:
                print(f"NEW-RUN the supervisor restarted (run {msg['run']})", flush=True)
                last_seq.clear()
            run = msg["run"]
            t = topic.decode()
            last = last_seq.get(t)
            if last is not None and msg["seq"] <= last:
                continue  # a replay we already have
            if last is not None and msg["seq"] > last + 1:
                print(f"GAP {t} missed {msg['seq'] - last - 1}", flush=True)
            last_seq[t] = msg["seq"]
            print(describe(msg) + (" [current]" if msg.get("replay") else ""), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
