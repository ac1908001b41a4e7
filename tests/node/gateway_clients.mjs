// gateway_clients.mjs: the official OpenAI and Anthropic SDKs, unchanged, against
// `llmdeck serve` routing to `llmdeck sim` providers: normal and streamed answers in
// both formats, each answered by the other kind of provider, and errors raised as the
// SDKs' own error classes. What agents do, through the gateway, to a model only an
// Anthropic sim serves ("claude") and one only an OpenAI sim serves ("gpt"), with each
// SDK: forced tool calls, a tool round trip, streamed tool calls, image input, JSON
// mode and embeddings (OpenAI SDK), count_tokens (Anthropic SDK). Starts its own sims
// and gateway on ephemeral ports.
//
//   cd tests/node && npm ci && LLMDECK=../../build/llmdeck node gateway_clients.mjs
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.LLMDECK ?? join(here, '..', '..', 'build', 'llmdeck');
const dir = mkdtempSync(join(tmpdir(), 'llmdeck-gw-'));
const children = [];

// Start a child and wait for the lines it prints that match re, n of them.
function start(args, env, re, n) {
	const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
	children.push(child);
	const found = [];
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`${args[0]} did not start in 10 s`)), 10000);
		child.on('exit', (code) => reject(new Error(`llmdeck ${args[0]} exited with ${code}`)));
		createInterface({ input: child.stdout }).on('line', (line) => {
			const m = re.exec(line);
			if (m) found.push(m);
			if (found.length === n) {
				clearTimeout(timer);
				resolve(found);
			}
		});
	});
}

let passed = 0;
async function check(name, fn) {
	await fn();
	passed++;
	console.log(`ok ${passed} - ${name}`);
}

try {
	const simcfg = join(dir, 'sims.json');
	writeFileSync(simcfg, JSON.stringify({
		sims: [
			{ name: 'ant', protocol: 'anthropic', listen: '127.0.0.1:0', key: 'sk-ant-sim' },
			{ name: 'oai', protocol: 'openai', listen: '127.0.0.1:0', key: 'sk-oai-sim' },
		],
	}));
	const sims = {};
	for (const m of await start(['sim', '--config', simcfg], {}, /^sim (\S+) (\S+) listening on (\S+)$/, 2))
		sims[m[1]] = m[3];

	const cfg = join(dir, 'config.json');
	writeFileSync(cfg, JSON.stringify({
		providers: [
			{ name: 'ant', kind: 'anthropic', base_url: sims.ant, api_key_env: 'GW_T_KEY_ANT', models: ['m', 'claude'], priority: 1, max_retries: 0 },
			{ name: 'oai', kind: 'openai', base_url: sims.oai, api_key_env: 'GW_T_KEY_OAI', models: ['m', 'gpt'], priority: 1, max_retries: 0 },
		],
		models: {
			m: { id: 'sim-model', input_per_mtok: 1, output_per_mtok: 2 },
			claude: { id: 'claude-sonnet-4-5', input_per_mtok: 3, output_per_mtok: 15 },
			gpt: { id: 'gpt-4o-mini', input_per_mtok: 0.15, output_per_mtok: 0.6 },
		},
		routes: { 'to-ant': { primary: 'ant' }, 'to-oai': { primary: 'oai' } },
		cache: { enabled: false },
	}));
	const env = { GW_T_KEY_ANT: 'sk-ant-sim', GW_T_KEY_OAI: 'sk-oai-sim', LLMDECK_GATEWAY_TOKEN: 'gw-token' };
	const [gm] = await start(['serve', '--listen', '127.0.0.1:0', '--config', cfg], env,
		/^llmdeck gateway listening on (\S+)$/, 1);
	const gw = gm[1];

	const oai = new OpenAI({ apiKey: 'gw-token', baseURL: `${gw}/v1`, maxRetries: 0 });
	const ant = new Anthropic({ apiKey: 'gw-token', baseURL: gw, maxRetries: 0 });

	await check('openai SDK: chat completion answered by an anthropic provider', async () => {
		const { data: r, response } = await oai.chat.completions.create({
			model: 'to-ant',
			messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'Hello there?' }],
			max_tokens: 50,
		}).withResponse();
		assert.equal(r.object, 'chat.completion');
		assert.match(r.choices[0].message.content, /\[ant\]/);
		assert.ok(r.usage.completion_tokens > 0);
		assert.equal(response.headers.get('x-llmdeck-provider'), 'ant');
	});

	await check('openai SDK: stream with usage', async () => {
		const s = await oai.chat.completions.create({
			model: 'to-ant', messages: [{ role: 'user', content: 'Stream please' }],
			stream: true, stream_options: { include_usage: true },
		});
		let text = '', usage = null, finish = null;
		for await (const c of s) {
			if (c.choices.length > 0) {
				text += c.choices[0].delta.content ?? '';
				finish = c.choices[0].finish_reason ?? finish;
			}
			if (c.usage) usage = c.usage;
		}
		assert.match(text, /\[ant\] You asked: Stream please/);
		assert.ok(['stop', 'length'].includes(finish));
		assert.ok(usage && usage.completion_tokens > 0);
	});

	await check('anthropic SDK: message answered by an openai provider', async () => {
		const r = await ant.messages.create({
			model: 'to-oai', max_tokens: 50, system: 'be brief',
			messages: [{ role: 'user', content: 'Hi from Anthropic' }],
		});
		assert.equal(r.type, 'message');
		assert.match(r.content[0].text, /\[oai\]/);
		assert.ok(r.usage.output_tokens > 0);
	});

	await check('anthropic SDK: stream', async () => {
		const s = ant.messages.stream({
			model: 'to-oai', max_tokens: 50, messages: [{ role: 'user', content: 'Stream it' }],
		});
		let text = '';
		s.on('text', (t) => { text += t; });
		const final = await s.finalMessage();
		assert.match(text, /\[oai\] You asked: Stream it/);
		assert.equal(final.content[0].text, text);
		assert.ok(['end_turn', 'max_tokens'].includes(final.stop_reason));
	});

	// ---- what agents do, to each provider kind ----
	const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
	const oaiTools = [{
		type: 'function',
		function: {
			name: 'get_weather', description: 'The weather in a city',
			parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
		},
	}];
	const antTools = [{
		name: 'get_weather', description: 'The weather in a city',
		input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
	}];
	const targets = [{ model: 'claude', provider: 'ant' }, { model: 'gpt', provider: 'oai' }];

	for (const { model, provider } of targets) {
		await check(`openai SDK -> ${provider}: a forced tool call, then the round trip`, async () => {
			const ask = [{ role: 'user', content: 'What is the weather?' }];
			const { data: r, response } = await oai.chat.completions.create({
				model, messages: ask, tools: oaiTools, tool_choice: 'required',
			}).withResponse();
			assert.equal(response.headers.get('x-llmdeck-provider'), provider);
			assert.equal(r.choices[0].finish_reason, 'tool_calls');
			const call = r.choices[0].message.tool_calls[0];
			assert.equal(call.type, 'function');
			assert.equal(call.function.name, 'get_weather');
			assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
			const back = await oai.chat.completions.create({
				model, tools: oaiTools,
				messages: [...ask, r.choices[0].message,
					{ role: 'tool', tool_call_id: call.id, content: '18C and sunny' }],
			});
			assert.equal(back.choices[0].finish_reason, 'stop');
			assert.ok(back.choices[0].message.content.length > 0);
			assert.equal(back.choices[0].message.tool_calls, undefined);
		});

		await check(`openai SDK -> ${provider}: a streamed tool call`, async () => {
			const s = oai.chat.completions.stream({
				model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: oaiTools,
				tool_choice: { type: 'function', function: { name: 'get_weather' } },
				stream_options: { include_usage: true },
			});
			let pieces = 0;
			s.on('tool_calls.function.arguments.delta', () => { pieces++; });
			const final = await s.finalChatCompletion();
			const call = final.choices[0].message.tool_calls[0];
			assert.equal(final.choices[0].finish_reason, 'tool_calls');
			assert.equal(call.function.name, 'get_weather');
			assert.ok(call.id.length > 0);
			assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
			assert.ok(pieces >= 1);
			assert.ok(final.usage.prompt_tokens > 0);
			assert.ok(final.usage.prompt_tokens_details.cached_tokens >= 0);
		});

		await check(`openai SDK -> ${provider}: an image`, async () => {
			const r = await oai.chat.completions.create({
				model, messages: [{ role: 'user', content: [
					{ type: 'text', text: 'What is in this image?' },
					{ type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }],
			});
			assert.ok(r.choices[0].message.content.length > 0);
			assert.ok(r.usage.prompt_tokens > 0);
		});

		await check(`openai SDK -> ${provider}: JSON mode`, async () => {
			const json = oai.chat.completions.create({
				model, response_format: { type: 'json_object' },
				messages: [{ role: 'user', content: 'Three colours as a JSON object' }],
			});
			if (provider === 'oai') {
				const r = await json;
				assert.equal(typeof JSON.parse(r.choices[0].message.content), 'object');
			} else {
				// Anthropic has no JSON mode without a schema: a 400 naming the field.
				await assert.rejects(json, (e) => e instanceof OpenAI.BadRequestError &&
					e.param === 'response_format');
				const r = await oai.chat.completions.create({
					model, messages: [{ role: 'user', content: 'Three colours' }],
					response_format: { type: 'json_schema', json_schema: { name: 'colours',
						schema: { type: 'object', properties: { colours: { type: 'array' } } } } },
				});
				assert.equal(r.choices[0].finish_reason, 'stop');
			}
		});

		await check(`openai SDK -> ${provider}: embeddings`, async () => {
			const e = oai.embeddings.create({ model, input: ['one', 'two'] });
			if (provider === 'oai') {
				// The SDK asks for base64 and decodes it.
				const r = await e;
				assert.equal(r.data.length, 2);
				assert.ok(r.data[1].embedding.length > 0);
				assert.ok(Number.isFinite(r.data[0].embedding[0]));
				assert.ok(r.usage.prompt_tokens > 0);
				const f = await oai.embeddings.create({ model, input: 'one', encoding_format: 'float', dimensions: 8 });
				assert.equal(f.data[0].embedding.length, 8);
			} else {
				// Anthropic has no embeddings API: a 400 naming the model.
				await assert.rejects(e, (err) => err instanceof OpenAI.BadRequestError &&
					err.param === 'model' && /embeddings API/.test(err.message));
			}
		});

		await check(`anthropic SDK -> ${provider}: a forced tool call, then the round trip`, async () => {
			const ask = [{ role: 'user', content: 'What is the weather?' }];
			const r = await ant.messages.create({
				model, max_tokens: 200, messages: ask, tools: antTools, tool_choice: { type: 'any' },
			});
			assert.equal(r.stop_reason, 'tool_use');
			const use = r.content.find((b) => b.type === 'tool_use');
			assert.equal(use.name, 'get_weather');
			assert.equal(typeof use.input.city, 'string');
			const back = await ant.messages.create({
				model, max_tokens: 200, tools: antTools,
				messages: [...ask, { role: 'assistant', content: r.content },
					{ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18C' }] }],
			});
			assert.equal(back.stop_reason, 'end_turn');
			assert.equal(back.content[0].type, 'text');
		});

		await check(`anthropic SDK -> ${provider}: a streamed tool call`, async () => {
			const s = ant.messages.stream({
				model, max_tokens: 200, messages: [{ role: 'user', content: 'Weather in Paris?' }],
				tools: antTools, tool_choice: { type: 'tool', name: 'get_weather' },
			});
			let json = '';
			s.on('inputJson', (delta) => { json += delta; });
			const final = await s.finalMessage();
			const use = final.content.find((b) => b.type === 'tool_use');
			assert.equal(final.stop_reason, 'tool_use');
			assert.equal(use.name, 'get_weather');
			assert.equal(typeof use.input.city, 'string');
			assert.deepEqual(JSON.parse(json), use.input);
			assert.ok(final.usage.input_tokens > 0 && final.usage.output_tokens > 0);
		});

		await check(`anthropic SDK -> ${provider}: an image, and count_tokens`, async () => {
			const messages = [{ role: 'user', content: [
				{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
				{ type: 'text', text: 'What is in this image?' }] }];
			const r = await ant.messages.create({ model, max_tokens: 100, messages });
			assert.equal(r.content[0].type, 'text');
			assert.ok(r.usage.input_tokens > 0);
			// The sims have no count_tokens: the gateway's estimate, labelled.
			const { data: n, response } = await ant.messages.countTokens({ model, messages, tools: antTools }).withResponse();
			assert.ok(n.input_tokens > 0);
			assert.equal(response.headers.get('x-llmdeck-estimate'), 'true');
		});
	}

	await check('openai SDK: unknown model is a BadRequestError naming the field', async () => {
		await assert.rejects(oai.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
			(e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /model/.test(e.message));
	});

	await check('anthropic SDK: upstream failure is an APIError, a wrong token an AuthenticationError', async () => {
		await fetch(`${sims.oai}/_sim/control`, { method: 'POST', body: JSON.stringify({ error_rate: 1, error_status: 500 }) });
		await assert.rejects(ant.messages.create({ model: 'to-oai', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
			(e) => e instanceof Anthropic.APIError && e.status === 502);
		const bad = new Anthropic({ apiKey: 'wrong', baseURL: gw, maxRetries: 0 });
		await assert.rejects(bad.messages.create({ model: 'to-oai', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
			(e) => e instanceof Anthropic.AuthenticationError);
	});

	await check('openai SDK: a failure mid-stream raises, never a silent end', async () => {
		await fetch(`${sims.ant}/_sim/control`, { method: 'POST', body: JSON.stringify({ fault: 'midstream' }) });
		const s = await oai.chat.completions.create({
			model: 'to-ant', messages: [{ role: 'user', content: 'break midway' }], stream: true,
		});
		let text = '';
		await assert.rejects((async () => {
			for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
		})(), (e) => e instanceof OpenAI.APIError);
		assert.ok(text.length > 0);
	});
	console.log(`1..${passed}`);
} finally {
	for (const c of children) c.kill('SIGTERM');
}
