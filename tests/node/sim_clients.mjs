// sim_clients.mjs: the official OpenAI, Anthropic, Mistral and Ollama clients against
// `llmdeck sim`, each sim directly. Checks that the clients accept the sims' answers
// (normal and streamed), raise the right error classes (401, 429, 529), and read the
// agent features as the real APIs send them: forced tool calls, a tool round trip,
// streamed tool calls, images, JSON mode and embeddings (OpenAI client against the
// OpenAI, Azure and Ollama /v1 sims; Anthropic's against Anthropic's; Mistral's and
// Ollama's against theirs). Starts its own sims on ephemeral ports.
//
//   cd tests/node && npm install && LLMDECK=../../build/llmdeck node sim_clients.mjs
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import OpenAI, { AzureOpenAI } from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Mistral } from '@mistralai/mistralai';
import { Ollama } from 'ollama';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.LLMDECK ?? join(here, '..', '..', 'build', 'llmdeck');
const dir = mkdtempSync(join(tmpdir(), 'llmdeck-sim-'));
const config = join(dir, 'sims.json');
writeFileSync(config, JSON.stringify({
	sims: [
		{ name: 'anthropic-sim', protocol: 'anthropic', listen: '127.0.0.1:0', key: 'sk-ant-test' },
		{ name: 'openai-sim', protocol: 'openai', listen: '127.0.0.1:0', key: 'sk-test-1234' },
		{ name: 'azure-sim', protocol: 'azure', listen: '127.0.0.1:0', key: 'az-key' },
		{ name: 'mistral-sim', protocol: 'mistral', listen: '127.0.0.1:0', key: 'mi-key' },
		{ name: 'ollama-sim', protocol: 'ollama', listen: '127.0.0.1:0' },
	],
}));

const child = spawn(bin, ['sim', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
const urls = {};
await new Promise((resolve, reject) => {
	const timer = setTimeout(() => reject(new Error('sims did not start in 10 s')), 10000);
	child.on('exit', (code) => reject(new Error(`llmdeck sim exited with ${code}`)));
	createInterface({ input: child.stdout }).on('line', (line) => {
		const m = /^sim (\S+) (\S+) listening on (\S+)$/.exec(line);
		if (m) urls[m[2]] = m[3];
		if (urls.anthropic && urls.openai && urls.azure && urls.mistral && urls.ollama) {
			clearTimeout(timer);
			resolve();
		}
	});
});

async function control(url, body) {
	const r = await fetch(`${url}/_sim/control`, { method: 'POST', body: JSON.stringify(body) });
	assert.equal(r.status, 200);
}

let passed = 0;
async function check(name, fn) {
	await fn();
	passed++;
	console.log(`ok ${passed} - ${name}`);
}

try {
	const oai = new OpenAI({ apiKey: 'sk-test-1234', baseURL: `${urls.openai}/v1`, maxRetries: 0 });
	const ant = new Anthropic({ apiKey: 'sk-ant-test', baseURL: urls.anthropic, maxRetries: 0 });

	await check('openai: chat completion', async () => {
		const r = await oai.chat.completions.create({
			model: 'gpt-4o-mini',
			messages: [{ role: 'user', content: 'Hello there' }],
		});
		assert.match(r.id, /^chatcmpl-/);
		assert.equal(r.choices[0].finish_reason, 'stop');
		assert.match(r.choices[0].message.content, /You asked: Hello there\./);
		assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
	});

	await check('openai: stream with usage', async () => {
		const stream = await oai.chat.completions.create({
			model: 'gpt-4o-mini',
			messages: [{ role: 'user', content: 'Hello there' }],
			stream: true,
			stream_options: { include_usage: true },
		});
		let text = '';
		let usage = null;
		let finish = null;
		for await (const chunk of stream) {
			if (chunk.usage) usage = chunk.usage;
			if (chunk.choices.length > 0) {
				text += chunk.choices[0].delta.content ?? '';
				finish = chunk.choices[0].finish_reason ?? finish;
			}
		}
		assert.match(text, /You asked: Hello there\./);
		assert.equal(finish, 'stop');
		assert.ok(usage.completion_tokens > 0);
	});

	await check('openai: 401 is AuthenticationError', async () => {
		const bad = new OpenAI({ apiKey: 'sk-wrong-9999', baseURL: `${urls.openai}/v1`, maxRetries: 0 });
		await assert.rejects(
			bad.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
			(e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key');
	});

	await check('openai: 429 is RateLimitError', async () => {
		await control(urls.openai, { error_rate: 1, error_status: 429, retry_after: 1 });
		await assert.rejects(
			oai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
			(e) => e instanceof OpenAI.RateLimitError && e.code === 'rate_limit_exceeded');
		await control(urls.openai, { error_rate: 0 });
	});

	await check('anthropic: message', async () => {
		const m = await ant.messages.create({
			model: 'claude-sim-1',
			max_tokens: 1024,
			system: 'Be brief.',
			messages: [{ role: 'user', content: 'Hello there' }],
		});
		assert.match(m.id, /^msg_/);
		assert.equal(m.stop_reason, 'end_turn');
		assert.equal(m.content[0].type, 'text');
		assert.match(m.content[0].text, /You asked: Hello there\./);
		assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
		assert.match(m._request_id ?? '', /^req_/);
	});

	await check('anthropic: stream', async () => {
		const stream = ant.messages.stream({
			model: 'claude-sim-1',
			max_tokens: 1024,
			messages: [{ role: 'user', content: 'Hello there' }],
		});
		let text = '';
		stream.on('text', (t) => { text += t; });
		const m = await stream.finalMessage();
		assert.equal(text, m.content[0].text);
		assert.match(text, /You asked: Hello there\./);
		assert.equal(m.stop_reason, 'end_turn');
		assert.ok(m.usage.output_tokens > 0);
	});

	await check('anthropic: 401 is AuthenticationError', async () => {
		const bad = new Anthropic({ apiKey: 'nope', baseURL: urls.anthropic, maxRetries: 0 });
		await assert.rejects(
			bad.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
			(e) => e instanceof Anthropic.AuthenticationError && e.status === 401);
	});

	await check('anthropic: 529 is overloaded', async () => {
		await control(urls.anthropic, { error_rate: 1, error_status: 529 });
		const cls = Anthropic.OverloadedError ?? Anthropic.InternalServerError;
		await assert.rejects(
			ant.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
			(e) => e instanceof cls && e.status === 529 && e.error?.error?.type === 'overloaded_error');
		await control(urls.anthropic, { error_rate: 0 });
	});

	await check('anthropic: error event mid-stream raises', async () => {
		await control(urls.anthropic, { fault: 'midstream' });
		const stream = ant.messages.stream({
			model: 'm', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello there' }],
		});
		await assert.rejects(stream.finalMessage(), (e) => /overloaded/i.test(String(e?.message ?? e)));
		await control(urls.anthropic, { fault: 'none' });
	});


	// ---- agent features, each official client against each sim ----
	const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
	const weather = {
		type: 'object',
		properties: {
			city: { type: 'string' },
			days: { type: 'integer', minimum: 2 },
			where: { type: 'object', properties: { lat: { type: 'number' } }, required: ['lat'] },
		},
		required: ['city', 'days', 'where'],
	};
	const fnTools = [
		{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: weather } },
		{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } } },
	];
	const checkArgs = (args) => {
		const a = typeof args === 'string' ? JSON.parse(args) : args;
		assert.equal(typeof a.city, 'string');
		assert.equal(a.days, 2);
		assert.equal(typeof a.where.lat, 'number');
	};
	const unit = (v) => Math.abs(Math.hypot(...v) - 1) < 1e-3;

	// The OpenAI client against the OpenAI sim, the Azure sim (AzureOpenAI) and Ollama's /v1.
	const openaiClients = {
		openai: oai,
		azure: new AzureOpenAI({ apiKey: 'az-key', endpoint: urls.azure, apiVersion: '2024-10-21', deployment: 'gpt-4o', maxRetries: 0 }),
		ollama: new OpenAI({ apiKey: 'ollama', baseURL: `${urls.ollama}/v1`, maxRetries: 0 }),
	};
	for (const [sim, c] of Object.entries(openaiClients)) {
		const model = sim === 'ollama' ? 'llama3.2' : 'gpt-4o';

		await check(`openai client x ${sim} sim: tools forced (required, named)`, async () => {
			let r = await c.chat.completions.create({
				model, messages: [{ role: 'user', content: 'Hi' }], tools: fnTools, tool_choice: 'required',
			});
			assert.equal(r.choices[0].finish_reason, 'tool_calls');
			assert.equal(r.choices[0].message.tool_calls[0].function.name, 'get_weather');
			checkArgs(r.choices[0].message.tool_calls[0].function.arguments);
			r = await c.chat.completions.create({
				model, messages: [{ role: 'user', content: 'Hi' }], tools: fnTools,
				tool_choice: { type: 'function', function: { name: 'get_time' } },
			});
			assert.equal(r.choices[0].message.tool_calls[0].function.name, 'get_time');
		});

		await check(`openai client x ${sim} sim: tool round trip`, async () => {
			const messages = [{ role: 'user', content: 'What is the weather? Use get_weather.' }];
			const r = await c.chat.completions.create({ model, messages, tools: fnTools });
			const call = r.choices[0].message.tool_calls[0];
			assert.equal(call.function.name, 'get_weather');
			messages.push(r.choices[0].message, { role: 'tool', tool_call_id: call.id, content: 'Sunny, 21 C' });
			const r2 = await c.chat.completions.create({ model, messages, tools: fnTools });
			assert.equal(r2.choices[0].finish_reason, 'stop');
			assert.match(r2.choices[0].message.content, /The tool returned: Sunny, 21 C\./);
		});

		await check(`openai client x ${sim} sim: streamed tool calls`, async () => {
			const stream = c.chat.completions.stream({
				model, messages: [{ role: 'user', content: 'Hi' }], tools: fnTools, tool_choice: 'required',
			});
			let pieces = 0;
			stream.on('tool_calls.function.arguments.delta', () => { pieces++; });
			const done = await stream.finalChatCompletion();
			assert.equal(done.choices[0].finish_reason, 'tool_calls');
			assert.equal(done.choices[0].message.tool_calls[0].function.name, 'get_weather');
			checkArgs(done.choices[0].message.tool_calls[0].function.arguments);
			assert.ok(pieces >= (sim === 'ollama' ? 1 : 3), `argument deltas: ${pieces}`);
		});

		await check(`openai client x ${sim} sim: image`, async () => {
			const r = await c.chat.completions.create({
				model,
				messages: [{ role: 'user', content: [
					{ type: 'text', text: 'What is this?' },
					{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
				] }],
			});
			assert.match(r.choices[0].message.content, /You asked: What is this\?/);
			assert.ok(r.usage.prompt_tokens >= 85);
			if (sim !== 'ollama') {
				await assert.rejects(c.chat.completions.create({
					model,
					messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,aGVsbG8=' } }] }],
				}), (e) => e instanceof OpenAI.BadRequestError && e.code === 'invalid_image_format');
			}
		});

		await check(`openai client x ${sim} sim: JSON mode`, async () => {
			let r = await c.chat.completions.create({
				model, messages: [{ role: 'user', content: 'Reply in JSON please' }], response_format: { type: 'json_object' },
			});
			assert.equal(typeof JSON.parse(r.choices[0].message.content), 'object');
			r = await c.chat.completions.create({
				model, messages: [{ role: 'user', content: 'A city' }],
				response_format: { type: 'json_schema', json_schema: { name: 'w', schema: weather, strict: true } },
			});
			checkArgs(r.choices[0].message.content);
		});

		await check(`openai client x ${sim} sim: embeddings`, async () => {
			// the client asks for base64 and decodes it to floats
			const r = await c.embeddings.create({ model: 'text-embedding-3-small', input: ['hello', 'world'], dimensions: 256 });
			assert.equal(r.data.length, 2);
			assert.equal(r.data[1].embedding.length, 256);
			assert.ok(unit(r.data[0].embedding));
			assert.ok(r.usage.prompt_tokens > 0);
		});
	}

	await check('openai client x openai sim: reasoning tokens, 429 headers', async () => {
		const r = await oai.chat.completions.create({ model: 'o3-mini', messages: [{ role: 'user', content: 'Hi' }] });
		assert.equal(r.usage.completion_tokens_details.reasoning_tokens, 64);
		await assert.rejects(
			oai.chat.completions.create({ model: 'o1', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
			(e) => e instanceof OpenAI.BadRequestError && e.code === 'unsupported_parameter');
		await control(urls.azure, { error_rate: 1, error_status: 429 });
		await assert.rejects(openaiClients.azure.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
			(e) => e instanceof OpenAI.RateLimitError && e.headers.get('retry-after') === '60' &&
				e.headers.get('retry-after-ms') === '60000' && e.headers.get('x-ratelimit-remaining-requests') === '0');
		await control(urls.azure, { error_rate: 0 });
	});

	// The Anthropic client against the Anthropic sim.
	const antTools = [
		{ name: 'get_weather', description: 'Weather', input_schema: weather },
		{ name: 'get_time', input_schema: { type: 'object', properties: { zone: { type: 'string' } } } },
	];
	await check('anthropic client x anthropic sim: tools forced (any, tool)', async () => {
		let m = await ant.messages.create({
			model: 'claude-sonnet-4-6', max_tokens: 1024, messages: [{ role: 'user', content: 'Hi' }],
			tools: antTools, tool_choice: { type: 'any' },
		});
		assert.equal(m.stop_reason, 'tool_use');
		assert.equal(m.content[0].type, 'tool_use');
		assert.equal(m.content[0].name, 'get_weather');
		checkArgs(m.content[0].input);
		m = await ant.messages.create({
			model: 'claude-sonnet-4-6', max_tokens: 1024, messages: [{ role: 'user', content: 'Hi' }],
			tools: antTools, tool_choice: { type: 'tool', name: 'get_time' },
		});
		assert.equal(m.content[0].name, 'get_time');
	});

	await check('anthropic client x anthropic sim: tool round trip', async () => {
		const messages = [{ role: 'user', content: 'Use get_time please' }];
		const m = await ant.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 1024, messages, tools: antTools });
		const use = m.content.find((b) => b.type === 'tool_use');
		assert.equal(use.name, 'get_time');
		messages.push({ role: 'assistant', content: m.content },
			{ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '12:00 UTC' }] });
		const m2 = await ant.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 1024, messages, tools: antTools });
		assert.equal(m2.stop_reason, 'end_turn');
		assert.match(m2.content[0].text, /The tool returned: 12:00 UTC\./);
	});

	await check('anthropic client x anthropic sim: streamed tool use', async () => {
		const stream = ant.messages.stream({
			model: 'claude-sonnet-4-6', max_tokens: 1024, messages: [{ role: 'user', content: 'Hi' }],
			tools: antTools, tool_choice: { type: 'any' },
		});
		let pieces = 0;
		stream.on('inputJson', () => { pieces++; });
		const m = await stream.finalMessage();
		assert.equal(m.stop_reason, 'tool_use');
		checkArgs(m.content[0].input);
		assert.ok(pieces >= 3, `input_json_delta events: ${pieces}`);
	});

	await check('anthropic client x anthropic sim: image, thinking, cache, stop sequence', async () => {
		let m = await ant.messages.create({
			model: 'claude-sonnet-4-6', max_tokens: 1024,
			messages: [{ role: 'user', content: [
				{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
				{ type: 'text', text: 'What is this?' },
			] }],
		});
		assert.match(m.content[0].text, /You asked: What is this\?/);
		assert.ok(m.usage.input_tokens >= 85);
		await assert.rejects(ant.messages.create({
			model: 'claude-sonnet-4-6', max_tokens: 1024,
			messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: PNG } }] }],
		}), (e) => e instanceof Anthropic.BadRequestError && /does not match the provided media type/.test(e.message));
		m = await ant.messages.create({
			model: 'claude-sonnet-4-6', max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 },
			messages: [{ role: 'user', content: 'Hello there' }],
		});
		assert.equal(m.content[0].type, 'thinking');
		assert.ok(m.content[0].signature.length > 0);
		const system = [{ type: 'text', text: 'Runbook. '.repeat(800), cache_control: { type: 'ephemeral' } }];
		const first = await ant.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 100, system, messages: [{ role: 'user', content: 'x' }] });
		const second = await ant.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 100, system, messages: [{ role: 'user', content: 'x' }] });
		assert.ok(first.usage.cache_creation_input_tokens > 0);
		assert.equal(second.usage.cache_read_input_tokens, first.usage.cache_creation_input_tokens);
		m = await ant.messages.create({
			model: 'claude-sonnet-4-6', max_tokens: 100, stop_sequences: ['simulated'], messages: [{ role: 'user', content: 'Hello there' }],
		});
		assert.equal(m.stop_reason, 'stop_sequence');
		assert.equal(m.stop_sequence, 'simulated');
		await assert.rejects(ant.messages.create({
			model: 'claude-sonnet-4-6', max_tokens: 10, temperature: 1.5, messages: [{ role: 'user', content: 'x' }],
		}), (e) => e instanceof Anthropic.BadRequestError && /less than or equal to 1/.test(e.message));
	});

	// The Mistral client against the Mistral sim.
	const mis = new Mistral({ apiKey: 'mi-key', serverURL: urls.mistral, retryConfig: { strategy: 'none' } });
	await check('mistral client x mistral sim: chat and stream', async () => {
		const r = await mis.chat.complete({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hello there' }] });
		assert.match(r.choices[0].message.content, /You asked: Hello there\./);
		assert.ok(r.usage.totalTokens > 0);
		const stream = await mis.chat.stream({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hello there' }] });
		let text = '';
		for await (const ev of stream) text += ev.data.choices[0]?.delta?.content ?? '';
		assert.match(text, /You asked: Hello there\./);
	});

	await check('mistral client x mistral sim: tools forced, round trip, streamed', async () => {
		const r = await mis.chat.complete({
			model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hi' }], tools: fnTools, toolChoice: 'any',
		});
		assert.equal(r.choices[0].finishReason, 'tool_calls');
		const call = r.choices[0].message.toolCalls[0];
		assert.equal(call.function.name, 'get_weather');
		checkArgs(call.function.arguments);
		const r2 = await mis.chat.complete({
			model: 'mistral-small-latest', tools: fnTools,
			messages: [
				{ role: 'user', content: 'Hi' },
				{ role: 'assistant', content: '', toolCalls: [call] },
				{ role: 'tool', toolCallId: call.id, name: 'get_weather', content: 'Sunny' },
			],
		});
		assert.match(r2.choices[0].message.content, /The tool returned: Sunny\./);
		const stream = await mis.chat.stream({
			model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hi' }], tools: fnTools, toolChoice: 'any',
		});
		let args = null;
		let finish = null;
		for await (const ev of stream) {
			const ch = ev.data.choices[0];
			if (ch?.delta?.toolCalls) args = ch.delta.toolCalls[0].function.arguments;
			finish = ch?.finishReason ?? finish;
		}
		checkArgs(args);
		assert.equal(finish, 'tool_calls');
	});

	await check('mistral client x mistral sim: image, JSON mode, embeddings, Magistral thinking, 422', async () => {
		let r = await mis.chat.complete({
			model: 'pixtral-12b', messages: [{ role: 'user', content: [
				{ type: 'text', text: 'What is this?' }, { type: 'image_url', imageUrl: `data:image/png;base64,${PNG}` },
			] }],
		});
		assert.match(r.choices[0].message.content, /You asked: What is this\?/);
		r = await mis.chat.complete({
			model: 'mistral-small-latest', messages: [{ role: 'user', content: 'json please' }], responseFormat: { type: 'json_object' },
		});
		assert.equal(typeof JSON.parse(r.choices[0].message.content), 'object');
		const e = await mis.embeddings.create({ model: 'mistral-embed', inputs: ['hello', 'world'] });
		assert.equal(e.data.length, 2);
		assert.equal(e.data[0].embedding.length, 1024);
		assert.ok(unit(e.data[0].embedding));
		const mag = await mis.chat.complete({ model: 'magistral-medium-latest', messages: [{ role: 'user', content: 'Hello there' }] });
		assert.equal(mag.choices[0].message.content[0].type, 'thinking');
		assert.match(mag.choices[0].message.content[1].text, /You asked: Hello there\./);
		const raw = await fetch(`${urls.mistral}/v1/chat/completions`, {
			method: 'POST', headers: { authorization: 'Bearer mi-key', 'content-type': 'application/json' },
			body: JSON.stringify({ model: 'm', store: true, messages: [{ role: 'user', content: 'x' }] }),
		});
		assert.equal(raw.status, 422);
		assert.equal((await raw.json()).detail[0].type, 'extra_forbidden');
	});

	// The Ollama client against the Ollama sim (no key).
	const oll = new Ollama({ host: urls.ollama });
	await check('ollama client x ollama sim: chat, stream, tags, num_ctx', async () => {
		const r = await oll.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hello there' }] });
		assert.match(r.message.content, /You asked: Hello there\./);
		let text = '';
		for await (const part of await oll.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hello there' }], stream: true })) text += part.message.content;
		assert.match(text, /You asked: Hello there\./);
		const tags = await oll.list();
		assert.ok(tags.models.length > 0);
		const long = await oll.chat({ model: 'llama3.2', options: { num_ctx: 128 }, messages: [{ role: 'user', content: 'word '.repeat(400) }] });
		assert.equal(long.prompt_eval_count, 128);
	});

	await check('ollama client x ollama sim: tools, round trip, streamed, image, JSON, embeddings', async () => {
		const r = await oll.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Call get_weather' }], tools: fnTools });
		const call = r.message.tool_calls[0];
		assert.equal(call.function.name, 'get_weather');
		checkArgs(call.function.arguments);
		const r2 = await oll.chat({
			model: 'llama3.2', tools: fnTools,
			messages: [{ role: 'user', content: 'Call get_weather' }, r.message, { role: 'tool', content: 'Rain', tool_name: 'get_weather' }],
		});
		assert.match(r2.message.content, /The tool returned: Rain\./);
		let streamed = null;
		for await (const part of await oll.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'get_time now' }], tools: fnTools, stream: true })) {
			if (part.message.tool_calls) streamed = part.message.tool_calls[0];
		}
		assert.equal(streamed.function.name, 'get_time');
		const img = await oll.chat({ model: 'llava', messages: [{ role: 'user', content: 'What is this?', images: [PNG] }] });
		assert.ok(img.prompt_eval_count >= 85);
		const js = await oll.chat({ model: 'llama3.2', format: 'json', messages: [{ role: 'user', content: 'hi' }] });
		assert.equal(typeof JSON.parse(js.message.content), 'object');
		const e = await oll.embed({ model: 'nomic-embed-text', input: ['a', 'b'] });
		assert.equal(e.embeddings.length, 2);
		assert.equal(e.embeddings[0].length, 768);
	});

	console.log(`all ${passed} SDK checks passed`);
} finally {
	child.kill('SIGTERM');
}
