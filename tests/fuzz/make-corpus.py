#!/usr/bin/env python3
"""make-corpus.py: writes the seed corpora of tests/fuzz/corpus/ from the
recorded traffic (tests/data/recorded), the example config, the shipped themes
and a few hand-written requests. Run by hand from the top of the tree when the
sources change; make never runs it. Inputs found by fuzzing are not seeds: a
crash's input goes to tests/fuzz/regress/NAME/ instead.
"""
import json
import os
import struct

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
REC = os.path.join(TOP, "tests", "data", "recorded")
OUT = os.path.join(TOP, "tests", "fuzz", "corpus")


def rec(name):
    with open(os.path.join(REC, name), "rb") as f:
        return f.read()


def rec_json(name):
    with open(os.path.join(REC, name)) as f:
        return json.load(f)


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def write(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def chunked(plan, data):
    """The chunk plan of fuzz.h (sizes 1..16) in front of a stream."""
    return bytes([len(plan)] + [n - 1 for n in plan]) + data


# Recorded traffic.
anth_stream = rec("anthropic_basic_stream.sse")
oai_stream = rec("openai_recorded_stream_include_usage.sse")
anth_200 = rec_json("anthropic_recorded_200.json")[0]["response"]["body"]
anth_429 = rec_json("anthropic_recorded_429_then_stream.json")
anth_429_body = anth_429[0]["response"]["body"]
anth_429_headers = anth_429[0]["response"]["headers"]
anth_live_stream = anth_429[2]["response"]["body"].encode()
anth_request = rec_json("anthropic_recorded_200.json")[0]["request"]["body"]

azure_stream = (
    b'data: {"choices":[],"created":0,"id":"","model":"","object":"",'
    b'"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}\n\n'
    b'data: {"choices":[{"content_filter_results":{},"delta":{"content":"Hi","role":'
    b'"assistant"},"finish_reason":null,"index":0}],"created":1,"id":"chatcmpl-A",'
    b'"model":"gpt-4o-2024-08-06","object":"chat.completion.chunk"}\n\n'
    b'data: {"choices":[{"content_filter_results":{},"delta":{},"finish_reason":"stop",'
    b'"index":0}],"created":1,"id":"chatcmpl-A","model":"gpt-4o-2024-08-06",'
    b'"object":"chat.completion.chunk","usage":{"prompt_tokens":5,"completion_tokens":1,'
    b'"prompt_tokens_details":{"cached_tokens":0}}}\n\n'
    b"data: [DONE]\n\n"
)
oai_stream_error = (
    b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"par"}}]}\n\n'
    b'data: {"error":{"message":"The server had an error while processing your request.",'
    b'"type":"server_error","param":null,"code":null}}\n\n'
)
anth_stream_error = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
    b'"model":"claude","usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
    b": a comment\n\n"
    b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
    b'"message":"Overloaded"}}\n\n'
)

# SSE decoder: whole, in small chunks, and the line ends and fields it must know.
for name, data in [("anthropic_basic", anth_stream), ("anthropic_live", anth_live_stream),
                   ("openai_usage", oai_stream)]:
    write("sse", name + "_whole", chunked([], data))
    write("sse", name + "_chunks", chunked([1, 2, 7, 16], data))
write("sse", "crlf_cr_bom", chunked([1, 3],
      b"\xef\xbb\xbfevent: a\r\ndata: one\r\ndata:two\r\n\r\n:comment\rid: 7\rretry: 10\r"
      b"data\r\rdata: three\n\nevent: end\ndata: last"))
write("sse", "stop_after_two", bytes([0x21, 0]) + b"data: 1\n\ndata: 2\n\ndata: 3\n\n")

# Stream decoders (every adapter runs each input).
write("stream", "anthropic_basic", chunked([5, 16, 1], anth_stream))
write("stream", "anthropic_live_whole", chunked([], anth_live_stream))
write("stream", "openai_usage", chunked([16, 3], oai_stream))
write("stream", "azure_filters", chunked([2, 9], azure_stream))
write("stream", "openai_error_midstream", chunked([4], oai_stream_error))
write("stream", "anthropic_error_event", chunked([], anth_stream_error))
write("stream", "text_in_unterminated_last_event", chunked([], anth_stream_error.split(b": a comment")[0]
      + b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
      b'"delta":{"type":"text_delta","text":" there"}}'))
write("stream", "cut_before_end", chunked([8], oai_stream[: len(oai_stream) // 2]))

# Whole answers.
write("response", "anthropic_recorded_200", compact(anth_200))
write("response", "openai_chat", compact({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "refusal": None},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 1,
              "prompt_tokens_details": {"cached_tokens": 4}}}))
write("response", "azure_chat", compact({
    "id": "chatcmpl-2", "model": "gpt-4o-2024-08-06",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
    "choices": [{"index": 0, "message": {"role": "assistant", "content": None},
                 "finish_reason": "content_filter", "content_filter_results": {}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 0}}))
write("response", "anthropic_error_in_200", compact(anth_429_body))
write("response", "openai_error_in_200", b'{"error":{"message":"bad","type":"x","code":42}}')


# Error answers: two bytes of status, header lines, an empty line, the body.
def error_input(status, headers, body):
    head = "".join("%s: %s\n" % kv for kv in headers)
    return struct.pack(">H", status) + head.encode() + b"\n" + body


write("error", "anthropic_recorded_429",
      error_input(429, list(anth_429_headers.items()) + [("retry-after", "17"),
                  ("request-id", anth_429_body["request_id"])], compact(anth_429_body)))
write("error", "anthropic_529", error_input(529, [("x-should-retry", "true")],
      b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'))
write("error", "openai_quota", error_input(429, [("x-request-id", "req_1"),
      ("retry-after-ms", "250")],
      b'{"error":{"message":"You exceeded your current quota","type":"insufficient_quota",'
      b'"param":null,"code":"insufficient_quota"}}'))
write("error", "azure_retry_hint", error_input(429, [("apim-request-id", "u-1"),
      ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")],
      b'{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation '
      b'have exceeded call rate limit. Please retry after 5 seconds."}}'))
write("error", "mistral_422", error_input(422, [],
      b'{"detail":[{"type":"extra_forbidden","loc":["body","max_completion_tokens"],'
      b'"msg":"Extra inputs are not permitted","input":5}]}'))
write("error", "html_502", error_input(502, [("x-should-retry", "false")],
      b"<html><body><h1>502 Bad Gateway</h1></body></html>"))
write("error", "empty_401", error_input(401, [], b""))

# Gateway request bodies.
write("gw_openai", "chat", compact({
    "model": "gpt-4o", "messages": [{"role": "system", "content": "be brief"},
                                   {"role": "developer", "content": "really"},
                                   {"role": "user", "content": "hi"},
                                   {"role": "assistant", "content": "hello"},
                                   {"role": "user", "content": [{"type": "text", "text": "2+2?"}]}],
    "temperature": 0.2, "top_p": 0.9, "max_tokens": 50, "n": 1, "stop": ["x", "y"],
    "stream": True, "stream_options": {"include_usage": True}}))
write("gw_openai", "parts_max_completion", compact({
    "model": "LSR", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                              {"type": "text", "text": "b"}]}],
    "max_completion_tokens": 5, "stop": "END", "stream": False, "stream_options": None}))
write("gw_anthropic", "recorded_request", compact(anth_request))
write("gw_anthropic", "messages", compact({
    "model": "claude-sonnet", "max_tokens": 100,
    "system": [{"type": "text", "text": "be brief"}],
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                 {"role": "user", "content": [{"type": "text", "text": "again"}]}],
    "temperature": 0, "top_p": 1, "stop_sequences": ["END"], "stream": True}))

# Config files and environments.
with open(os.path.join(TOP, "tests", "data", "config", "example.json"), "rb") as f:
    write("config", "example.json", f.read())
write("config", "small", compact({
    "providers": [{"name": "m", "kind": "openai", "flavor": "mistral",
                   "base_url": "http://127.0.0.1:2", "models": ["mistral-large"]}],
    "breaker": {"failure_threshold": 5, "cooldown_seconds": 30, "half_open_max": 1}}))
write("config", "env_keys",
      "env\nANTHROPIC_API_KEY=sk-ant-test\nOPENAI_API_KEY=sk-test\nAZURE_OPENAI_KEY=az\n"
      "AZURE_OPENAI_ENDPOINT=https://x.openai.azure.com\nLLM_PRIMARY_PROVIDER=anthropic\n"
      "LLM_FALLBACK_PROVIDER=openai\nLLM_TIMEOUT_SECONDS=30\nLLM_MAX_RETRIES=2\n"
      "LLM_DAILY_BUDGET=10.5\nLLM_ALERT_THRESHOLD=0.8\nLLM_CACHE_ENABLED=true\n"
      "LLM_CACHE_TTL=60\n")

# Themes: the shipped ones.
for t in sorted(os.listdir(os.path.join(TOP, "themes"))):
    with open(os.path.join(TOP, "themes", t), "rb") as f:
        write("theme", t, f.read())

# The simulator: byte 0 is an index in fuzz_sim.c's routes[] (or 0x80 before a
# control body); byte 1 has the quota flag in bit 0 and retry-after above it.
ROUTES = ["anthropic messages", "anthropic models", "anthropic none", "openai chat",
          "openai models", "openai health", "openai none", "azure chat", "azure deployment",
          "azure models", "azure none", "mistral chat", "mistral models", "mistral none",
          "ollama chat", "ollama ollama_chat", "ollama version", "ollama tags", "ollama models",
          "ollama root", "ollama none"]


def sim_input(route, flags, body):
    return bytes([ROUTES.index(route), flags]) + body


chat = {"model": "m", "messages": [{"role": "system", "content": "s"},
                                   {"role": "user", "content": "hello there"}],
        "max_tokens": 20}
write("sim", "anthropic_messages", sim_input("anthropic messages", 0, compact({
    "model": "claude", "max_tokens": 30, "system": "s",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})))
write("sim", "anthropic_stream", sim_input("anthropic messages", 0, compact({
    "model": "claude", "max_tokens": 8, "stream": True,
    "messages": [{"role": "user", "content": "hi"}]})))
write("sim", "openai_chat", sim_input("openai chat", 0, compact(chat)))
write("sim", "openai_stream_usage", sim_input("openai chat", 1, compact(dict(
    chat, stream=True, stream_options={"include_usage": True}, max_completion_tokens=3))))
write("sim", "azure_deployment", sim_input("azure deployment", 5 << 1, compact(
    {"messages": chat["messages"], "stream": True})))
write("sim", "mistral_extra_field", sim_input("mistral chat", 0, compact(dict(
    chat, max_completion_tokens=3))))
write("sim", "ollama_native", sim_input("ollama ollama_chat", 0, compact({
    "model": "llama", "messages": chat["messages"], "options": {"num_predict": 4}})))
write("sim", "mistral_chat_stream", sim_input("mistral chat", 0, compact(dict(
    chat, stream=True, random_seed=1))))
write("sim", "ollama_openai_stream", sim_input("ollama chat", 0, compact(dict(chat, stream=True))))
write("sim", "azure_v1_chat", sim_input("azure chat", 1 << 1, compact(chat)))
write("sim", "models", sim_input("openai models", 0, b""))
write("sim", "ollama_tags", sim_input("ollama tags", 0, b""))
write("sim", "control", b"\x80" + compact({
    "error_rate": 0.3, "error_status": 529, "retry_after": 2, "quota": True,
    "fault": "midstream", "latency_ms": 5, "jitter_ms": 1, "token_delay_ms": 0,
    "seed": 7, "key": "k", "model": "x"}))
write("sim", "control_bad", b"\x80" + b'{"fault":"sideways"}')
