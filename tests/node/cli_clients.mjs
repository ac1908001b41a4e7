// cli_clients.mjs (optional): the real coding-agent CLIs, as a new user would point them at
// `llmdeck serve`: the Codex CLI (@openai/codex, Responses API only) through a custom model
// provider (CODEX_HOME/config.toml, wire_api = "responses") to a model an OpenAI sim serves,
// and Claude Code (@anthropic-ai/claude-code, `claude -p`, ANTHROPIC_BASE_URL) to a model an
// Anthropic sim serves. Each is asked to use its shell tool; the sims call a tool the prompt
// names (core/sim/sim_gen.c) with arguments made from its schema ("sim command", "sim cmd"), so
// an executable `sim` (and `sim command`) on PATH records that the CLI really ran it.
//
// The CLIs are large and not in package.json: found as $CODEX_BIN / $CLAUDE_BIN, in
// node_modules/.bin or on PATH; a CLI that is absent is skipped, and with neither the script
// prints SKIP and exits 0. Everything (sims, gateway, CLIs) runs in a new network namespace
// (`unshare -rn`, loopback only), so a CLI can reach nothing but the gateway; without
// unshare the script prints SKIP. Telemetry, update checks and error reporting are off too.
//
//   cd tests/node && LLMDECK=../../build/llmdeck CODEX_BIN=... CLAUDE_BIN=... node cli_clients.mjs
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { writeFileSync, mkdtempSync, mkdirSync, existsSync, readFileSync, chmodSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.LLMDECK ?? join(here, '..', '..', 'build', 'llmdeck');

function findBin(envName, name) {
	if (process.env[envName]) return existsSync(process.env[envName]) ? process.env[envName] : null;
	const local = join(here, 'node_modules', '.bin', name);
	if (existsSync(local)) return local;
	const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
	return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}
const codexBin = findBin('CODEX_BIN', 'codex');
const claudeBin = findBin('CLAUDE_BIN', 'claude');
if (!codexBin && !claudeBin) {
	console.log('SKIP: neither codex (@openai/codex) nor claude (@anthropic-ai/claude-code) is installed');
	process.exit(0);
}

// Into a network namespace of our own with only loopback, then run this script again there.
if (!process.env.LLMDECK_CLI_NETNS) {
	const probe = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' });
	if (probe.status !== 0) {
		console.log('SKIP: cannot run the CLIs cut off from the network (unshare -rn and ip link set lo up)');
		process.exit(0);
	}
	const r = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"',
		process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
	{ stdio: 'inherit', env: { ...process.env, LLMDECK_CLI_NETNS: '1', CODEX_BIN: codexBin ?? '', CLAUDE_BIN: claudeBin ?? '' } });
	process.exit(r.status ?? 1);
}

const dir = mkdtempSync(join(tmpdir(), 'llmdeck-cli-'));
const children = [];
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

// A recording proxy in front of the gateway: what each CLI sent and what it got back.
const exchanges = [];
function recordingProxy(target) {
	const t = new URL(target);
	const server = createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const body = Buffer.concat(chunks);
			const rec = { method: req.method, path: req.url, body: body.toString(), status: 0, answer: '' };
			exchanges.push(rec);
			const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
				rec.status = ur.statusCode;
				res.writeHead(ur.statusCode, ur.headers);
				ur.on('data', (d) => { if (rec.answer.length < 20000) rec.answer += d; res.write(d); });
				ur.on('end', () => res.end());
			});
			up.on('error', (e) => { rec.status = 599; res.writeHead(502); res.end(String(e)); });
			up.end(body);
		});
	});
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })));
}

function runCli(file, args, env, cwd, seconds) {
	return new Promise((resolve) => {
		const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '', err = '';
		child.stdout.on('data', (d) => { out += d; });
		child.stderr.on('data', (d) => { err += d; });
		const timer = setTimeout(() => { child.kill('SIGKILL'); err += `\n[killed after ${seconds} s]`; }, seconds * 1000);
		child.on('exit', (code, sig) => { clearTimeout(timer); resolve({ code: code ?? sig, out, err }); });
	});
}

const results = [];
let n = 0;
function report(name, ok, reason, evidence) {
	n++;
	results.push({ name, ok, reason });
	console.log(ok ? `ok ${n} - ${name}` : `not ok ${n} - ${name} : ${reason}`);
	for (const line of evidence) console.log(`#   ${line}`);
}
const oneLine = (s, k = 400) => String(s).replace(/\s+/g, ' ').trim().slice(0, k);
function exchangeLines(from) {
	return exchanges.slice(from).map((r) => `${r.method} ${r.path} -> ${r.status}` +
		(r.status >= 400 ? ` ${oneLine(r.answer, 300)}` : ''));
}
// The tool names in the requests from index from on.
function toolNames(from) {
	const names = new Set();
	for (const r of exchanges.slice(from)) {
		try {
			for (const t of JSON.parse(r.body).tools ?? []) names.add(t.name ?? t.function?.name ?? t.type);
		} catch { /* not JSON */ }
	}
	return [...names];
}

try {
	const simcfg = join(dir, 'sims.json');
	writeFileSync(simcfg, JSON.stringify({
		sims: [
			{ name: 'oai', protocol: 'openai', listen: '127.0.0.1:0', key: 'sk-oai-sim' },
			{ name: 'ant', protocol: 'anthropic', listen: '127.0.0.1:0', key: 'sk-ant-sim' },
		],
	}));
	const sims = {};
	for (const m of await start(['sim', '--config', simcfg], {}, /^sim (\S+) (\S+) listening on (\S+)$/, 2))
		sims[m[1]] = m[3];
	const claudeModels = ['claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-opus-4-5'];
	const cfg = join(dir, 'config.json');
	writeFileSync(cfg, JSON.stringify({
		providers: [
			{ name: 'openai', kind: 'openai', base_url: sims.oai, api_key_env: 'CLI_T_KEY_OAI', models: ['gpt-5-mini'], max_retries: 0 },
			{ name: 'anthropic', kind: 'anthropic', base_url: sims.ant, api_key_env: 'CLI_T_KEY_ANT', models: claudeModels, max_retries: 0 },
		],
		models: Object.fromEntries([['gpt-5-mini', { id: 'gpt-5-mini', input_per_mtok: 0.25, output_per_mtok: 2 }],
			...claudeModels.map((m) => [m, { id: m, input_per_mtok: 3, output_per_mtok: 15, max_output_tokens: 8192 }])]),
		cache: { enabled: false },
	}));
	const [gm] = await start(['serve', '--listen', '127.0.0.1:0', '--config', cfg],
		{ CLI_T_KEY_OAI: 'sk-oai-sim', CLI_T_KEY_ANT: 'sk-ant-sim', LLMDECK_GATEWAY_TOKEN: 'gw-token' },
		/^llmdeck gateway listening on (\S+)$/, 1);
	const proxy = await recordingProxy(gm[1]);
	children.push({ kill: () => proxy.server.close() });

	// `sim ...`: what the sims' shell-tool arguments run; it leaves a mark.
	const bindir = join(dir, 'bin'), mark = join(dir, 'ran');
	mkdirSync(bindir);
	for (const name of ['sim', 'sim command', 'sim cmd']) {
		writeFileSync(join(bindir, name), `#!/bin/sh\necho "$0 $*" >> '${mark}'\necho "SIM-RAN $*"\n`);
		chmodSync(join(bindir, name), 0o755);
	}
	const home = join(dir, 'home'), work = join(dir, 'work');
	mkdirSync(home);
	mkdirSync(work);
	// Codex runs commands in a login shell, which sets PATH afresh: put `sim` back on it.
	for (const rc of ['.bash_profile', '.profile', '.bashrc'])
		writeFileSync(join(home, rc), `export PATH='${bindir}':"$PATH"\n`);
	const quiet = {
		PATH: `${bindir}:${process.env.PATH}`, HOME: home, TERM: 'dumb', NO_COLOR: '1', LANG: 'C.UTF-8',
		DISABLE_TELEMETRY: '1', DISABLE_ERROR_REPORTING: '1', DISABLE_AUTOUPDATER: '1', DISABLE_BUG_COMMAND: '1',
		CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DO_NOT_TRACK: '1',
	};
	const ranBefore = () => (existsSync(mark) ? readFileSync(mark, 'utf8') : '');

	if (codexBin) {
		const codexHome = join(dir, 'codex');
		mkdirSync(codexHome);
		writeFileSync(join(codexHome, 'config.toml'), [
			'model = "gpt-5-mini"',
			'model_provider = "llmdeck"',
			'check_for_update_on_startup = false',
			'',
			'[analytics]',
			'enabled = false',
			'',
			'[model_providers.llmdeck]',
			'name = "llmdeck"',
			`base_url = "${proxy.url}/v1"`,
			'env_key = "LLMDECK_TOKEN"',
			'wire_api = "responses"',
			'request_max_retries = 0',
			'stream_max_retries = 0',
			'',
		].join('\n'));
	}
	// Codex to the OpenAI-served model (passed through), then to an Anthropic-served one (translated):
	// as installed (its tools include a "namespace" of sub-agent functions and the hosted web_search),
	// then without those two.
	const without = ['-c', 'web_search=disabled', '-c', 'features.multi_agent=false'];
	for (const { model, sim, extra } of [{ model: 'gpt-5-mini', sim: 'openai', extra: [] },
		{ model: 'claude-sonnet-4-5', sim: 'anthropic', extra: [] },
		{ model: 'claude-sonnet-4-5', sim: 'anthropic', extra: without }]) {
		if (!codexBin) break;
		const codexHome = join(dir, 'codex');
		const from = exchanges.length, before = ranBefore();
		const prompt = process.env.CODEX_PROMPT ?? 'Use the shell tool: exec_command, shell_command or shell.';
		const r = await runCli(codexBin, ['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox',
			'-m', model, '-C', work, ...extra, ...(process.env.CODEX_ARGS ? process.env.CODEX_ARGS.split(' ') : []), prompt], { ...quiet, CODEX_HOME: codexHome, LLMDECK_TOKEN: 'gw-token' }, work, 120);
		const ran = ranBefore().slice(before.length);
		const responses = exchanges.slice(from).filter((e) => e.path.startsWith('/v1/responses'));
		const reason = r.code !== 0 ? `exit ${r.code}` : !ran ? 'the shell command did not run'
			: responses.length < 2 ? 'no second request with the command output' : null;
		report(`codex exec${extra.length ? ` ${extra.join(' ')}` : ''}: a shell command through a custom wire_api = "responses" provider (${model}, ${sim} sim)`,
			reason === null, reason, [`codex ${spawnSync(codexBin, ['--version'], { encoding: 'utf8' }).stdout.trim()}`,
				`tools sent: ${toolNames(from).join(', ')}`, ...exchangeLines(from), `ran: ${oneLine(ran) || '(nothing)'}`,
				`stdout: ${oneLine(r.out, 600)}`, `stderr: ${oneLine(r.err, 600)}`]);
	}

	// Claude Code, twice: with its default tools (its first message carries long system reminders
	// before the prompt, which name Agent, Read, Edit, Write, Skill ...: the sim, reading the start of
	// the last user message, calls those), then with --tools Bash, where the prompt's "Bash" is seen.
	const claudeEnv = {
		...quiet, ANTHROPIC_BASE_URL: proxy.url, ANTHROPIC_API_KEY: 'gw-token', CLAUDE_CONFIG_DIR: join(home, '.claude'),
		ANTHROPIC_MODEL: 'claude-sonnet-4-5', ANTHROPIC_SMALL_FAST_MODEL: 'claude-haiku-4-5',
		ANTHROPIC_DEFAULT_HAIKU_MODEL: 'claude-haiku-4-5', ANTHROPIC_DEFAULT_SONNET_MODEL: 'claude-sonnet-4-5',
		ANTHROPIC_DEFAULT_OPUS_MODEL: 'claude-opus-4-5',
		...(process.env.CLAUDE_ENV ? JSON.parse(process.env.CLAUDE_ENV) : {}),
	};
	// And once to the OpenAI-served model: Claude Code in front of another provider.
	for (const { label, extra, needBash, model, sim } of [
		{ label: 'default tools: a tool-using turn', extra: [], needBash: false, model: 'claude-sonnet-4-5', sim: 'anthropic' },
		{ label: '--tools Bash: a Bash command', extra: ['--tools', 'Bash'], needBash: true, model: 'claude-sonnet-4-5', sim: 'anthropic' },
		{ label: '--tools Bash: a Bash command', extra: ['--tools', 'Bash'], needBash: true, model: 'gpt-5-mini', sim: 'openai' },
	]) {
		if (!claudeBin) break;
		const from = exchanges.length, before = ranBefore();
		const prompt = process.env.CLAUDE_PROMPT ?? 'Run Bash.';
		const r = await runCli(claudeBin, ['-p', prompt, '--model', model, '--allowedTools', 'Bash',
			'--output-format', 'json', '--max-turns', '4', ...extra], { ...claudeEnv, ANTHROPIC_MODEL: model }, work, 120);
		const ran = ranBefore().slice(before.length);
		let result = null;
		try { result = JSON.parse(r.out); } catch { /* not JSON */ }
		const msgs = exchanges.slice(from).filter((e) => e.path.startsWith('/v1/messages') && !e.path.includes('count_tokens'));
		const toolResultsSent = msgs.some((e) => /"type":"tool_result"/.test(e.body));
		const reason = r.code !== 0 ? `exit ${r.code}` : result?.is_error ? `result is_error: ${oneLine(result.result, 200)}`
			: needBash && !ran ? 'the Bash command did not run'
			: !toolResultsSent ? 'no tool results went back to the model' : null;
		report(`claude -p, ${label} through ANTHROPIC_BASE_URL (${model}, ${sim} sim)`,
			reason === null, reason, [`claude ${spawnSync(claudeBin, ['--version'], { encoding: 'utf8', env: quiet }).stdout.trim()}`,
				`args: -p '${prompt}' ${extra.join(' ')}`, `tools sent: ${toolNames(from).join(', ')}`, ...exchangeLines(from),
				`ran: ${oneLine(ran) || '(nothing)'}`, `result: ${oneLine(result?.result ?? r.out, 400)}`, `stderr: ${oneLine(r.err, 400)}`]);
	}
	if (process.env.CLI_DUMP) writeFileSync(process.env.CLI_DUMP, JSON.stringify(exchanges, null, 1));
} catch (e) {
	console.log(`not ok - setup: ${e?.stack ?? e}`);
	results.push({ ok: false });
} finally {
	for (const c of children) c.kill('SIGTERM');
}
console.log(`1..${n}`);
process.exit(results.some((r) => !r.ok) ? 1 : 0);
