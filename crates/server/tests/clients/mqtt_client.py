#!/usr/bin/env python3
"""A scripted paho-mqtt (2.x) client for the mqtt-server integration tests.

It connects, runs a plan of steps given as JSON, and reports what happens as
one JSON object per line on stdout, flushed at once, so that the Rust test can
wait for each event (never sleep and hope):

  {"event": "connected", "session_present": bool, "reason_code": int}
  {"event": "subscribed", "filter": str, "reason_codes": [int]}
  {"event": "published", "topic": str, "mid": int}
  {"event": "message", "topic": str, "payload": str, "qos": int, "retain": bool,
   "user_properties": [[k, v], ...] | null, "expiry": int | null,
   "sub_ids": [int], "topic_alias": int | null}
  {"event": "disconnected"}            (after the plan's last step)
  {"event": "error", "what": str}       (then exit status 1)

Steps (the plan is a JSON list):

  {"op": "subscribe", "filter": F, "qos": 0-2, "sub_id": N (5.0, optional)}
      waits for the SUBACK.
  {"op": "publish", "topic": T, "payload": P, "qos": 0-2, "retain": bool,
   "user_properties": [[k, v], ...], "expiry": N, "topic_alias": N}
      (properties 5.0 only) waits until the publish is complete: PUBACK
      (QoS 1), PUBCOMP (QoS 2), written to the socket (QoS 0).
  {"op": "wait_for", "payload": P}
      waits until a message with this payload has arrived.
  {"op": "disconnect", "reason": N (5.0, optional)}
      sends DISCONNECT (with that reason code) and ends the plan.

A plan that does not end with "disconnect" disconnects normally (reason 0).
Every wait is bounded by --timeout seconds; the whole run by --deadline.
paho's packet log ("Sending PUBREC ...") goes to stderr.

Note: paho hands a QoS 2 message to on_message when the PUBREL arrives, a
round trip after the PUBLISH, so a later QoS 0/1 message may be reported
first.
"""

import argparse
import json
import os
import sys
import threading

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode
except ImportError as e:  # pragma: no cover - reported to the Rust test
    print(json.dumps({"event": "error", "what": f"paho-mqtt is missing ({e}); "
                      "install it with: python3 -m pip install paho-mqtt==2.1.0"}), flush=True)
    sys.exit(1)

_print_lock = threading.Lock()


def emit(obj):
    with _print_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def fail(what):
    emit({"event": "error", "what": what})
    sys.stdout.flush()
    os._exit(1)


def code_of(rc):
    """An int from a paho ReasonCode (or a plain int)."""
    return int(getattr(rc, "value", rc))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--version", choices=["311", "5"], required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--transport", choices=["tcp", "websockets"], default="tcp")
    ap.add_argument("--cafile", help="enable TLS, trusting this CA (PEM)")
    ap.add_argument("--clean", type=int, choices=[0, 1], default=1,
                    help="Clean Session (3.1.1) / Clean Start (5.0)")
    ap.add_argument("--session-expiry", type=int, help="Session Expiry Interval (5.0)")
    ap.add_argument("--will", nargs=3, metavar=("TOPIC", "PAYLOAD", "QOS"))
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--deadline", type=float, default=30.0)
    ap.add_argument("plan", help="JSON list of steps")
    args = ap.parse_args()
    plan = json.loads(args.plan)
    v5 = args.version == "5"

    # Nothing may hang: the whole run is bounded.
    watchdog = threading.Timer(args.deadline, lambda: fail(f"deadline of {args.deadline}s passed"))
    watchdog.daemon = True
    watchdog.start()

    cond = threading.Condition()
    state = {"connected": None, "subacks": {}, "messages": [], "pubacks": {}}

    def on_connect(client, userdata, flags, reason_code, properties):
        with cond:
            state["connected"] = (bool(flags.session_present), code_of(reason_code))
            cond.notify_all()

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        with cond:
            state["subacks"][mid] = [code_of(rc) for rc in reason_codes]
            cond.notify_all()

    def on_message(client, userdata, msg):
        props = msg.properties if v5 else None
        event = {
            "event": "message",
            "topic": msg.topic,
            "payload": msg.payload.decode("utf-8", "backslashreplace"),
            "qos": msg.qos,
            "retain": bool(msg.retain),
            "user_properties": None,
            "expiry": None,
            "sub_ids": [],
            "topic_alias": None,
        }
        if props is not None:
            if hasattr(props, "UserProperty"):
                event["user_properties"] = [list(kv) for kv in props.UserProperty]
            if hasattr(props, "MessageExpiryInterval"):
                event["expiry"] = props.MessageExpiryInterval
            if hasattr(props, "SubscriptionIdentifier"):
                ids = props.SubscriptionIdentifier
                event["sub_ids"] = list(ids) if isinstance(ids, list) else [ids]
            if hasattr(props, "TopicAlias"):
                event["topic_alias"] = props.TopicAlias
        emit(event)
        with cond:
            state["messages"].append(event)
            cond.notify_all()

    def on_publish(client, userdata, mid, reason_code, properties):
        with cond:
            state["pubacks"][mid] = code_of(reason_code)
            cond.notify_all()

    def wait(predicate, what):
        with cond:
            if not cond.wait_for(predicate, timeout=args.timeout):
                fail(f"timed out after {args.timeout}s waiting for {what}")

    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=args.id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        transport=args.transport,
        clean_session=None if v5 else bool(args.clean),
    )
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_publish = on_publish
    # Packet-level log on stderr: the Rust test shows it when a wait fails.
    client.on_log = lambda client, userdata, level, buf: print(buf, file=sys.stderr, flush=True)
    if args.transport == "websockets":
        client.ws_set_options(path="/mqtt")
    if args.cafile:
        client.tls_set(ca_certs=args.cafile)
    if args.will:
        topic, payload, qos = args.will
        client.will_set(topic, payload, int(qos))

    connect_kwargs = {}
    if v5:
        connect_kwargs["clean_start"] = bool(args.clean)
        if args.session_expiry is not None:
            p = Properties(PacketTypes.CONNECT)
            p.SessionExpiryInterval = args.session_expiry
            connect_kwargs["properties"] = p
    try:
        client.connect(args.host, args.port, keepalive=30, **connect_kwargs)
    except Exception as e:  # noqa: BLE001 - reported as an event
        fail(f"connect to {args.host}:{args.port} failed: {e!r}")
    client.loop_start()
    wait(lambda: state["connected"] is not None, "CONNACK")
    session_present, rc = state["connected"]
    emit({"event": "connected", "session_present": session_present, "reason_code": rc})
    if rc != 0:
        fail(f"connection refused with reason code {rc}")

    disconnected = False
    for step in plan:
        op = step["op"]
        if op == "subscribe":
            kwargs = {}
            if v5 and "sub_id" in step:
                p = Properties(PacketTypes.SUBSCRIBE)
                p.SubscriptionIdentifier = step["sub_id"]
                kwargs["properties"] = p
            result, mid = client.subscribe(step["filter"], step.get("qos", 0), **kwargs)
            if result != mqtt.MQTT_ERR_SUCCESS:
                fail(f"subscribe {step['filter']} not sent: {result}")
            wait(lambda: mid in state["subacks"], f"SUBACK for {step['filter']}")
            emit({"event": "subscribed", "filter": step["filter"], "reason_codes": state["subacks"][mid]})
        elif op == "publish":
            props = None
            if v5 and any(k in step for k in ("user_properties", "expiry", "topic_alias")):
                props = Properties(PacketTypes.PUBLISH)
                if "user_properties" in step:
                    props.UserProperty = [tuple(kv) for kv in step["user_properties"]]
                if "expiry" in step:
                    props.MessageExpiryInterval = step["expiry"]
                if "topic_alias" in step:
                    props.TopicAlias = step["topic_alias"]
            qos = step.get("qos", 0)
            info = client.publish(step["topic"], step.get("payload", ""), qos,
                                  step.get("retain", False), properties=props)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                fail(f"publish to {step['topic']!r} not sent: {info.rc}")
            info.wait_for_publish(timeout=args.timeout)
            if not info.is_published():
                fail(f"publish to {step['topic']!r} not completed within {args.timeout}s")
            if qos > 0:
                wait(lambda: info.mid in state["pubacks"], "the publish acknowledgement")
                if state["pubacks"][info.mid] >= 0x80:
                    fail(f"publish to {step['topic']!r} refused: {state['pubacks'][info.mid]}")
            emit({"event": "published", "topic": step["topic"], "mid": info.mid})
        elif op == "wait_for":
            wanted = step["payload"]
            wait(lambda: any(m["payload"] == wanted for m in state["messages"]),
                 f"a message with payload {wanted!r}")
        elif op == "disconnect":
            if v5 and "reason" in step:
                client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=step["reason"]))
            else:
                client.disconnect()
            disconnected = True
            break
        else:
            fail(f"unknown step {step!r}")
    if not disconnected:
        client.disconnect()
    client.loop_stop()
    emit({"event": "disconnected"})
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
