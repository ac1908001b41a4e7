// agent_clients.mjs: the agent frameworks a new user points at `llmdeck serve`, unchanged,
// against one model per provider kind, each served by one `llmdeck sim` only:
//   gpt-5-mini           an OpenAI sim (the Responses API passed through)
//   claude-sonnet-4-5    an Anthropic sim (translated)
//   mistral-small-latest a Mistral sim (translated)
//   llama3.2             an Ollama sim, native /api/chat (translated)
// Clients: the official openai SDK's Responses API (text, stream, a function tool round
// trip, text.format json_schema, reasoning items carried across turns, previous_response_id
// and the stored response's retrieve / input_items / delete), the OpenAI Agents SDK
// (default model: Responses), the Vercel AI SDK's openai provider (Responses) and anthropic
// provider (eager_input_streaming on its tools), LangChain's ChatOpenAI (Chat Completions).
// Every check runs; each prints `ok N - ...` or `not ok N - ... : reason`; a table of
// client x capability x model at the end; exit 1 if any failed.
//
//   cd tests/node && npm ci && LLMDECK=../../build/llmdeck node agent_clients.mjs [filter]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { z } from 'zod';
import { Agent, run, tool as agentTool, setDefaultOpenAIClient, setTracingDisabled, setOpenAIAPI } from '@openai/agents';
import { generateText, streamText, tool as aiTool, stepCountIs } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { ChatOpenAI } from '@langchain/openai';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { tool as lcTool } from '@langchain/core/tools';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.LLMDECK ?? join(here, '..', '..', 'build', 'llmdeck');
const dir = mkdtempSync(join(tmpdir(), 'llmdeck-agents-'));
const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const verbose = !!process.env.VERBOSE;
const children = [];
globalThis.AI_SDK_LOG_WARNINGS = false; // the AI SDK's notes on unknown model ids

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

// Every request the clients send, to assert on what went out and to show a failure's evidence.
const sent = [];
async function capFetch(url, init = {}) {
	const rec = { method: init.method ?? 'GET', url: String(url), body: init.body, status: 0, answer: '' };
	sent.push(rec);
	const r = await fetch(url, init);
	rec.status = r.status;
	if (r.status >= 400) rec.answer = await r.clone().text().catch(() => '');
	return r;
}
const bodyOf = (rec) => { try { return JSON.parse(rec.body); } catch { return null; } };

const results = [];
let n = 0;
async function check(client, capability, model, fn) {
	const name = `${client}: ${capability} (${model})`;
	if (filter && !filter.test(name)) return;
	const from = sent.length;
	let reason = null;
	try {
		await Promise.race([fn(), new Promise((_, rej) => setTimeout(() => rej(new Error('timed out after 30 s')), 30000))]);
	} catch (e) {
		const msg = String(e?.message ?? e).replace(/\s+/g, ' ');
		reason = (e?.status && !msg.startsWith(String(e.status)) ? `${e.status} ` : '') + msg.slice(0, 300);
	}
	n++;
	results.push({ client, capability, model, ok: reason === null, reason });
	if (reason === null) {
		console.log(`ok ${n} - ${name}`);
		return;
	}
	console.log(`not ok ${n} - ${name} : ${reason}`);
	// The last failing exchange (or the last one) this check sent, as evidence.
	const mine = sent.slice(from);
	const bad = mine.filter((r) => r.status >= 400).pop() ?? mine.pop();
	if (bad) {
		console.log(`#   ${bad.method} ${bad.url.replace(/^https?:\/\/[^/]+/, '')} -> ${bad.status}`);
		if (verbose && bad.body) console.log(`#   request: ${String(bad.body).slice(0, 1500)}`);
		if (bad.answer) console.log(`#   answer: ${bad.answer.replace(/\s+/g, ' ').slice(0, 400)}`);
	}
}

const models = [
	{ model: 'gpt-5-mini', provider: 'openai', reasons: true },
	{ model: 'claude-sonnet-4-5', provider: 'anthropic', reasons: true },
	{ model: 'mistral-small-latest', provider: 'mistral', reasons: false },
	{ model: 'llama3.2', provider: 'ollama', reasons: false },
];

const weatherParams = {
	type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false,
};
const rTools = [{ type: 'function', name: 'get_weather', description: 'The weather in a city', parameters: weatherParams, strict: true }];

// The text of a Responses API response's output messages.
function outputText(resp) {
	return (resp.output ?? []).filter((i) => i.type === 'message')
		.flatMap((i) => i.content ?? []).filter((c) => c.type === 'output_text').map((c) => c.text).join('');
}

let failed = 0;
try {
	const simcfg = join(dir, 'sims.json');
	writeFileSync(simcfg, JSON.stringify({
		sims: [
			{ name: 'oai', protocol: 'openai', listen: '127.0.0.1:0', key: 'sk-oai-sim' },
			{ name: 'ant', protocol: 'anthropic', listen: '127.0.0.1:0', key: 'sk-ant-sim' },
			{ name: 'mis', protocol: 'mistral', listen: '127.0.0.1:0', key: 'mi-sim' },
			{ name: 'oll', protocol: 'ollama', listen: '127.0.0.1:0' },
		],
	}));
	const sims = {};
	for (const m of await start(['sim', '--config', simcfg], {}, /^sim (\S+) (\S+) listening on (\S+)$/, 4))
		sims[m[1]] = m[3];

	const cfg = join(dir, 'config.json');
	writeFileSync(cfg, JSON.stringify({
		providers: [
			{ name: 'openai', kind: 'openai', base_url: sims.oai, api_key_env: 'AG_T_KEY_OAI', models: ['gpt-5-mini'], max_retries: 0 },
			{ name: 'anthropic', kind: 'anthropic', base_url: sims.ant, api_key_env: 'AG_T_KEY_ANT', models: ['claude-sonnet-4-5'], max_retries: 0 },
			{ name: 'mistral', kind: 'openai', flavor: 'mistral', base_url: sims.mis, api_key_env: 'AG_T_KEY_MIS', models: ['mistral-small-latest'], max_retries: 0 },
			{ name: 'ollama', kind: 'openai', flavor: 'ollama', base_url: sims.oll, models: ['llama3.2'], max_retries: 0 },
		],
		models: {
			'gpt-5-mini': { id: 'gpt-5-mini', input_per_mtok: 0.25, output_per_mtok: 2 },
			'claude-sonnet-4-5': { id: 'claude-sonnet-4-5', input_per_mtok: 3, output_per_mtok: 15, max_output_tokens: 8192 },
			'mistral-small-latest': { id: 'mistral-small-latest', input_per_mtok: 0.1, output_per_mtok: 0.3 },
			'llama3.2': { id: 'llama3.2', input_per_mtok: 0, output_per_mtok: 0 },
		},
		cache: { enabled: false },
	}));
	const env = { AG_T_KEY_OAI: 'sk-oai-sim', AG_T_KEY_ANT: 'sk-ant-sim', AG_T_KEY_MIS: 'mi-sim', LLMDECK_GATEWAY_TOKEN: 'gw-token' };
	const [gm] = await start(['serve', '--listen', '127.0.0.1:0', '--config', cfg], env,
		/^llmdeck gateway listening on (\S+)$/, 1);
	const gw = gm[1];

	if (process.env.AGENT_CLIENTS_HOLD) {
		// For a look by hand: the gateway (token gw-token) and the sims stay up until ^C.
		console.log(`gateway ${gw} (token gw-token); sims ${JSON.stringify(sims)}; config ${cfg}`);
		await new Promise((resolve) => process.once('SIGINT', resolve));
		throw new Error('held, then interrupted');
	}
	const oai = new OpenAI({ apiKey: 'gw-token', baseURL: `${gw}/v1`, maxRetries: 0, timeout: 25000, fetch: capFetch });
	setDefaultOpenAIClient(oai);
	setOpenAIAPI('responses');
	setTracingDisabled(true);
	const aiOpenAI = createOpenAI({ baseURL: `${gw}/v1`, apiKey: 'gw-token', fetch: capFetch });
	const aiAnthropic = createAnthropic({ baseURL: `${gw}/v1`, apiKey: 'gw-token', fetch: capFetch });

	for (const { model, provider, reasons } of models) {
		// ---- the official openai SDK, Responses API ----
		const C = 'openai SDK responses';
		await check(C, 'text', model, async () => {
			const r = await oai.responses.create({ model, input: 'Hello there?', instructions: 'Be brief.' });
			assert.equal(r.object, 'response');
			assert.equal(r.status, 'completed');
			assert.match(r.output_text, /You asked: Hello there\?/);
			assert.equal(r.output_text, outputText(r));
			assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, 'usage');
		});

		await check(C, 'stream events', model, async () => {
			const s = await oai.responses.create({ model, input: 'Stream please', stream: true });
			const types = [];
			let deltas = '', done = null, final = null, seq = -1;
			for await (const e of s) {
				types.push(e.type);
				assert.ok(e.sequence_number > seq, `sequence_number ${e.sequence_number} after ${seq}`);
				seq = e.sequence_number;
				if (e.type === 'response.output_text.delta') deltas += e.delta;
				if (e.type === 'response.output_text.done') done = e.text;
				if (e.type === 'response.completed') final = e.response;
			}
			assert.equal(types[0], 'response.created', `first event ${types[0]}`);
			assert.equal(types.at(-1), 'response.completed', `last event ${types.at(-1)}`);
			for (const t of ['response.output_item.added', 'response.content_part.added', 'response.output_text.done',
				'response.content_part.done', 'response.output_item.done'])
				assert.ok(types.includes(t), `no ${t} in ${[...new Set(types)].join(',')}`);
			assert.ok(types.indexOf('response.output_text.delta') > types.indexOf('response.content_part.added'), 'delta before content_part.added');
			assert.match(deltas, /You asked: Stream please/);
			assert.equal(done, deltas, 'output_text.done text is not the deltas');
			assert.equal(outputText(final), deltas, 'completed response output_text is not the deltas');
			assert.equal(final.status, 'completed');
			assert.ok(final.usage?.output_tokens > 0, 'usage in response.completed');
		});

		await check(C, 'function tool round trip', model, async () => {
			// tool_choice auto, the tool named in the prompt (the sims call a tool the prompt names):
			// Ollama cannot force a call, so "required" is a 400 there (by design).
			const input = [{ role: 'user', content: 'Use get_weather: what is the weather in Paris?' }];
			const r = await oai.responses.create({ model, input, tools: rTools });
			const call = r.output.find((i) => i.type === 'function_call');
			assert.ok(call, `no function_call in output: ${JSON.stringify(r.output).slice(0, 200)}`);
			assert.equal(call.name, 'get_weather');
			assert.ok(call.call_id, 'call_id');
			assert.equal(typeof JSON.parse(call.arguments).city, 'string');
			const back = await oai.responses.create({
				model, tools: rTools,
				input: [...input, ...r.output, { type: 'function_call_output', call_id: call.call_id, output: '18C and sunny' }],
			});
			assert.equal(back.status, 'completed');
			assert.equal(back.output.find((i) => i.type === 'function_call'), undefined, 'called the tool again');
			assert.match(back.output_text, /18C and sunny/, 'the tool output did not reach the model');
		});

		await check(C, 'streamed function call', model, async () => {
			const s = await oai.responses.create({
				model, input: 'Use get_weather: what is the weather in Paris?', tools: rTools, stream: true,
			});
			const types = [];
			let args = '', doneArgs = null, item = null, final = null;
			for await (const e of s) {
				types.push(e.type);
				if (e.type === 'response.function_call_arguments.delta') args += e.delta;
				if (e.type === 'response.function_call_arguments.done') doneArgs = e.arguments;
				if (e.type === 'response.output_item.done' && e.item.type === 'function_call') item = e.item;
				if (e.type === 'response.completed') final = e.response;
			}
			assert.equal(types[0], 'response.created', `first event ${types[0]}`);
			assert.equal(types.at(-1), 'response.completed', `last event ${types.at(-1)}`);
			assert.ok(item, `no function_call output_item.done in ${[...new Set(types)].join(',')}`);
			assert.equal(item.name, 'get_weather');
			assert.ok(item.call_id, 'call_id');
			assert.equal(typeof JSON.parse(item.arguments).city, 'string');
			assert.equal(doneArgs, item.arguments, 'function_call_arguments.done');
			assert.equal(args, item.arguments, 'the argument deltas do not make the arguments');
			const call = final.output.find((i) => i.type === 'function_call');
			assert.equal(call?.call_id, item.call_id, 'the completed response has the call');
		});

		await check(C, 'text.format json_schema', model, async () => {
			const r = await oai.responses.create({
				model, input: 'Three colours',
				text: { format: { type: 'json_schema', name: 'colours', strict: true, schema: {
					type: 'object', properties: { colours: { type: 'array', items: { type: 'string' } }, count: { type: 'integer' } },
					required: ['colours', 'count'], additionalProperties: false } } },
			});
			const o = JSON.parse(r.output_text);
			assert.ok(Array.isArray(o.colours) && o.colours.every((c) => typeof c === 'string'), 'colours');
			assert.ok(Number.isInteger(o.count), 'count');
			assert.equal(r.text?.format?.type, 'json_schema', 'text.format echoed');
		});

		if (reasons) {
			await check(C, 'reasoning items across turns', model, async () => {
				const input = [{ role: 'user', content: 'Think about the number seven.' }];
				const r = await oai.responses.create({
					model, input, store: false, reasoning: { effort: 'low' }, include: ['reasoning.encrypted_content'],
					max_output_tokens: 4000,
				});
				const rs = r.output.find((i) => i.type === 'reasoning');
				assert.ok(rs, `no reasoning item: ${r.output.map((i) => i.type).join(',')}`);
				assert.equal(typeof rs.encrypted_content, 'string', 'encrypted_content');
				assert.ok(rs.encrypted_content.length > 0, 'encrypted_content empty');
				// Anthropic does not count thinking apart from the answer: no reasoning_tokens there.
				if (provider === 'openai')
					assert.ok(r.usage.output_tokens_details?.reasoning_tokens > 0, 'reasoning_tokens');
				const r2 = await oai.responses.create({
					model, store: false, reasoning: { effort: 'low' }, include: ['reasoning.encrypted_content'],
					max_output_tokens: 4000, input: [...input, ...r.output, { role: 'user', content: 'And eight?' }],
				});
				assert.equal(r2.status, 'completed');
				assert.match(r2.output_text, /And eight\?/);
				assert.ok(r2.usage.input_tokens > r.usage.input_tokens, 'second turn input no larger than the first');
			});
		}

		await check(C, 'previous_response_id, retrieve, input_items, delete', model, async () => {
			const r1 = await oai.responses.create({ model, input: 'My name is Ada.', store: true });
			assert.ok(r1.id, 'id');
			const r2 = await oai.responses.create({ model, input: 'What is my name?', previous_response_id: r1.id, store: true });
			assert.equal(r2.previous_response_id, r1.id, 'previous_response_id echoed');
			assert.match(r2.output_text, /What is my name\?/);
			assert.ok(r2.usage.input_tokens > r1.usage.input_tokens, `the first turn was not sent: input_tokens ${r1.usage.input_tokens} then ${r2.usage.input_tokens}`);
			const got = await oai.responses.retrieve(r2.id);
			assert.equal(got.id, r2.id);
			assert.equal(got.output_text, r2.output_text, 'retrieved output_text');
			const items = [];
			for await (const it of oai.responses.inputItems.list(r2.id)) items.push(it);
			const texts = items.filter((i) => i.type === 'message').map((i) => JSON.stringify(i.content));
			assert.ok(texts.some((t) => t.includes('What is my name?')), `input_items: ${JSON.stringify(items).slice(0, 300)}`);
			const del = await oai.responses.delete(r2.id);
			// openai v6 types delete as void; the body is {id, object: "response", deleted: true}.
			if (del !== undefined && del !== null && typeof del === 'object') assert.equal(del.deleted, true);
			await assert.rejects(oai.responses.retrieve(r2.id), (e) => e instanceof OpenAI.NotFoundError, 'retrieve after delete is not a 404');
			await oai.responses.delete(r1.id);
		});

		// ---- the OpenAI Agents SDK, its default (Responses) model ----
		await check('openai agents SDK', 'function tool, final output', model, async () => {
			let calls = 0;
			const getWeather = agentTool({
				name: 'get_weather', description: 'The weather in a city',
				parameters: z.object({ city: z.string() }),
				execute: async ({ city }) => { calls++; return `18C and sunny in ${city}`; },
			});
			const agent = new Agent({ name: 'Weather', instructions: 'Answer with the get_weather tool.', model, tools: [getWeather] });
			const res = await run(agent, 'Use get_weather for Paris.', { maxTurns: 4 });
			assert.equal(calls, 1, `tool executed ${calls} times`);
			assert.equal(typeof res.finalOutput, 'string');
			assert.match(res.finalOutput, /18C and sunny/, `final output: ${res.finalOutput}`);
		});

		// ---- the Vercel AI SDK, openai(model): Responses ----
		const aiWeather = () => aiTool({
			description: 'The weather in a city', inputSchema: z.object({ city: z.string() }),
			execute: async ({ city }) => `18C and sunny in ${city}`,
		});
		await check('AI SDK openai', 'generateText tools, several steps', model, async () => {
			const r = await generateText({
				model: aiOpenAI(model), tools: { get_weather: aiWeather() }, stopWhen: stepCountIs(5),
				prompt: 'Use get_weather for Paris.', maxRetries: 0,
			});
			assert.ok(r.steps.length >= 2, `${r.steps.length} steps`);
			assert.equal(r.steps[0].toolCalls[0]?.toolName, 'get_weather');
			assert.match(r.steps[0].toolResults[0]?.output ?? '', /18C/);
			assert.match(r.text, /18C and sunny/, `text: ${r.text}`);
			assert.equal(r.finishReason, 'stop');
		});

		// The same with store: false, where the SDK sends reasoning back whole (encrypted_content)
		// instead of item_reference ids of stored items.
		await check('AI SDK openai', 'generateText tools, store: false', model, async () => {
			const r = await generateText({
				model: aiOpenAI(model), tools: { get_weather: aiWeather() }, stopWhen: stepCountIs(5),
				prompt: 'Use get_weather for Paris.', maxRetries: 0, providerOptions: { openai: { store: false } },
			});
			assert.ok(r.steps.length >= 2, `${r.steps.length} steps`);
			assert.match(r.text, /18C and sunny/, `text: ${r.text}`);
		});

		await check('AI SDK openai', 'streamText', model, async () => {
			let err = null;
			const r = streamText({ model: aiOpenAI(model), prompt: 'Stream please', maxRetries: 0, onError: ({ error }) => { err = error; } });
			let text = '';
			for await (const t of r.textStream) text += t;
			if (err) throw err;
			assert.match(text, /You asked: Stream please/);
			assert.equal(await r.text, text);
			assert.equal(await r.finishReason, 'stop');
			assert.ok((await r.usage).outputTokens > 0, 'usage');
		});

		await check('AI SDK openai', 'streamText tools, several steps', model, async () => {
			let err = null;
			const r = streamText({
				model: aiOpenAI(model), tools: { get_weather: aiWeather() }, stopWhen: stepCountIs(5),
				prompt: 'Use get_weather for Paris.', maxRetries: 0, onError: ({ error }) => { err = error; },
			});
			const kinds = new Set();
			for await (const p of r.fullStream) kinds.add(p.type);
			if (err) throw err;
			assert.ok(kinds.has('tool-call') && kinds.has('tool-result'), `parts: ${[...kinds].join(',')}`);
			assert.match(await r.text, /18C and sunny/);
			assert.equal((await r.steps).length, 2);
		});

		// ---- LangChain ChatOpenAI: Chat Completions ----
		await check('LangChain ChatOpenAI', 'tool loop (ToolMessage with name)', model, async () => {
			const weather = lcTool(async ({ city }) => `18C and sunny in ${city}`, {
				name: 'get_weather', description: 'The weather in a city', schema: z.object({ city: z.string() }),
			});
			const llm = new ChatOpenAI({ model, apiKey: 'gw-token', maxRetries: 0, configuration: { baseURL: `${gw}/v1`, fetch: capFetch } });
			const bound = llm.bindTools([weather]);
			const msgs = [new HumanMessage('Use get_weather for Paris.')];
			const ai = await bound.invoke(msgs);
			assert.equal(ai.tool_calls?.[0]?.name, 'get_weather', `no tool call: ${JSON.stringify(ai.content)}`);
			msgs.push(ai, await weather.invoke(ai.tool_calls[0]));
			assert.ok(msgs[2] instanceof ToolMessage);
			const from = sent.length;
			const fin = await bound.invoke(msgs);
			const req = sent.slice(from).map(bodyOf).find((b) => b?.messages);
			assert.ok(req, 'no chat completions request');
			const tm = req.messages.find((m) => m.role === 'tool');
			assert.equal(tm?.name, 'get_weather', `the tool message sent: ${JSON.stringify(tm)}`);
			assert.match(String(fin.content), /18C and sunny/);
			assert.equal(fin.tool_calls?.length ?? 0, 0);
		});

		// ---- the AI SDK's anthropic provider: /v1/messages, tools with eager_input_streaming ----
		await check('AI SDK anthropic', 'streamText tools (eager_input_streaming)', model, async () => {
			let err = null;
			const from = sent.length;
			const r = streamText({
				model: aiAnthropic(model), tools: { get_weather: aiWeather() }, stopWhen: stepCountIs(5),
				prompt: 'Use get_weather for Paris.', maxRetries: 0, onError: ({ error }) => { err = error; },
			});
			let text = '';
			for await (const t of r.textStream) text += t;
			if (err) throw err;
			const req = bodyOf(sent[from]);
			assert.equal(req?.tools?.[0]?.eager_input_streaming, true, 'the SDK did not send eager_input_streaming');
			assert.equal((await r.steps).length, 2, 'steps');
			assert.match(text, /18C and sunny/, `text: ${text}`);
		});
	}
} catch (e) {
	console.log(`not ok - setup: ${e?.stack ?? e}`);
	failed++;
} finally {
	for (const c of children) c.kill('SIGTERM');
}

// The table: one row per client and capability, one column per model.
failed += results.filter((r) => !r.ok).length;
console.log(`1..${n}`);
const rows = [...new Map(results.map((r) => [`${r.client}|${r.capability}`, r])).values()];
const head = ['client', 'capability', ...models.map((m) => `${m.model} (${m.provider})`)];
const cell = (c, k, m) => {
	const r = results.find((x) => x.client === c && x.capability === k && x.model === m);
	return r ? (r.ok ? 'pass' : 'FAIL') : '-';
};
const table = [head, ...rows.map((r) => [r.client, r.capability, ...models.map((m) => cell(r.client, r.capability, m.model))])];
const w = head.map((_, i) => Math.max(...table.map((row) => row[i].length)));
console.log('# summary');
for (const row of table) console.log('# | ' + row.map((c, i) => c.padEnd(w[i])).join(' | ') + ' |');
console.log(`# ${results.length - results.filter((r) => !r.ok).length} passed, ${results.filter((r) => !r.ok).length} failed`);
process.exit(failed > 0 ? 1 : 0);
