// sim_clients.mjs: the official OpenAI and Anthropic SDKs against `llmdeck sim`.
// Checks that the SDKs accept the sims' answers (normal and streamed) and raise
// the right error classes (401, 429, 529). Starts its own sims on ephemeral ports.
//
//   cd tests/node && npm install && LLMDECK=../../build/llmdeck node sim_clients.mjs
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
const dir = mkdtempSync(join(tmpdir(), 'llmdeck-sim-'));
const config = join(dir, 'sims.json');
writeFileSync(config, JSON.stringify({
	sims: [
		{ name: 'anthropic-sim', protocol: 'anthropic', listen: '127.0.0.1:0', key: 'sk-ant-test' },
		{ name: 'openai-sim', protocol: 'openai', listen: '127.0.0.1:0', key: 'sk-test-1234' },
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
		if (urls.anthropic && urls.openai) {
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

	console.log(`all ${passed} SDK checks passed`);
} finally {
	child.kill('SIGTERM');
}
