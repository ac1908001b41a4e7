// gateway_clients.mjs: the official OpenAI and Anthropic SDKs, unchanged, against
// `llmdeck serve` routing to `llmdeck sim` providers: normal and streamed answers in
// both formats, each answered by the other kind of provider, and errors raised as the
// SDKs' own error classes. Starts its own sims and gateway on ephemeral ports.
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
			{ name: 'ant', kind: 'anthropic', base_url: sims.ant, api_key_env: 'GW_T_KEY_ANT', models: ['m'], priority: 1, max_retries: 0 },
			{ name: 'oai', kind: 'openai', base_url: sims.oai, api_key_env: 'GW_T_KEY_OAI', models: ['m'], priority: 1, max_retries: 0 },
		],
		models: { m: { id: 'sim-model', input_per_mtok: 1, output_per_mtok: 2 } },
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
