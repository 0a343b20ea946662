/**
 * One Dockerfile for the three apps (the repository root's, built with the root as context and
 * `--build-arg APP=<app>`), each app's image checked as that build makes it, against the config
 * schema and package.json: multi-stage, a build stage that bundles the app (tools/build) and from
 * which only the bundle leaves, production dependencies only in the image (`npm ci --omit=dev`),
 * no sources in it, a non-root user, the app's default port exposed and health-checked on
 * /healthz, and a command that runs that app's bundle with source maps. An app's own stage holds
 * only what differs between the apps (ENV, EXPOSE, CMD), so a fix lands in the shared stages for
 * all three. Every check returns a list of problems; the "catches" tests feed each one a broken copy.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { APP_NAMES, EXTRA_ENV, ROOT, adminPortOf, knownTo, portOf, read, type AppName } from './support/deploy-config';

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions by stage: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full);
    if (m) instructions.push({ keyword: m[1].toUpperCase(), args: m[2] });
  }
  const stages: Stage[] = [];
  for (const i of instructions) {
    if (i.keyword === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(i.args);
      stages.push({ image: m?.[1] ?? i.args, name: m?.[2], instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(i);
    }
  }
  return stages;
}

/**
 * The Dockerfile as `docker build --build-arg APP=<app>` reads it: `${APP}` replaced with the app's
 * name in the stages that declare `ARG APP` and in the FROM lines (the global ARG); elsewhere by
 * nothing, as Docker does, which the checks then catch.
 */
function withApp(text: string, app: string): string {
  let declared = true; // before the first FROM: the global ARG, seen by FROM lines only
  return text
    .split('\n')
    .map((line) => {
      if (/^FROM\s/i.test(line)) {
        const from = line.replaceAll('${APP}', app);
        declared = false;
        return from;
      }
      if (/^ARG\s+APP\s*$/i.test(line)) declared = true;
      return line.replaceAll('${APP}', declared ? app : '');
    })
    .join('\n');
}

/**
 * The final stage of an app's image with what it inherits: the stages it starts FROM, in order,
 * up to an image that is not a stage. Its instructions are those of the whole line.
 */
function imageOf(stages: Stage[]): { final: Stage; line: Stage[] } | undefined {
  const last = stages[stages.length - 1];
  if (!last) return undefined;
  const line = [last];
  for (let s = stages.find((x) => x.name === line[0].image); s && !line.includes(s); s = stages.find((x) => x.name === line[0].image)) line.unshift(s);
  return { final: { image: line[0].image, name: last.name, instructions: line.flatMap((s) => s.instructions) }, line };
}

const ofStage = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.keyword === keyword);

/** `ENV A=1 B=2` (and the old `ENV A 1`) as a map. */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of ofStage(stage, 'ENV')) {
    if (!/^\S+=/.test(args)) {
      const [key, ...rest] = args.split(/\s+/);
      env[key] = rest.join(' ');
      continue;
    }
    for (const m of args.matchAll(/(\S+?)=("(?:[^"\\]|\\.)*"|\S*)/g)) env[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
  }
  return env;
}

/** The exec-form JSON array of CMD/HEALTHCHECK CMD, or undefined for the shell form. */
function execForm(args: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? (parsed as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/** COPY sources (not --from ones) of a stage. */
function copySources(stage: Stage): string[] {
  return ofStage(stage, 'COPY')
    .filter((i) => !/--from=/.test(i.args))
    .flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      return parts.slice(0, -1);
    });
}

function nodeMajorOfEngines(): number {
  const engines = (JSON.parse(read('package.json')) as { engines?: { node?: string } }).engines?.node ?? '';
  return Number(/(\d+)/.exec(engines)?.[1]);
}

/** The image `docker build --build-arg APP=<app>` makes from this Dockerfile text. */
function checkAppImage(app: AppName, text: string): string[] {
  const problems: string[] = [];
  const where = `Dockerfile (APP=${app})`;
  const port = portOf(app);
  const stages = parseDockerfile(withApp(text, app));
  if (stages.length < 2) problems.push(`${where}: ${stages.length} stage(s), not multi-stage`);
  const image = imageOf(stages);
  if (!image) return [...problems, `${where}: no FROM`];
  const { final, line } = image;
  const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));

  const major = nodeMajorOfEngines();
  for (const s of stages) {
    if (stageNames.has(s.image)) continue;
    const m = /^node:(\d+)-/.exec(s.image);
    if (!m) problems.push(`${where}: stage ${s.name ?? '?'} is FROM ${s.image}, not an official node image`);
    else if (Number(m[1]) < major) problems.push(`${where}: ${s.image} is older than package.json engines (node ${major})`);
  }
  if (new Set(stages.filter((s) => !stageNames.has(s.image)).map((s) => s.image)).size > 1) {
    problems.push(`${where}: stages use different base images (node_modules built on one, run on another)`);
  }

  // The build stage: the one stage with dev dependencies (esbuild, tsx), which bundles this app;
  // only its bundle leaves it.
  const bundle = `dist/apps/${app}/`;
  const builder = stages.find((s) => ofStage(s, 'RUN').some((i) => i.args.trim() === `node --import tsx tools/build/src/main.ts ${app}`));
  if (!builder) problems.push(`${where}: no stage runs "node --import tsx tools/build/src/main.ts ${app}" (the bundle)`);
  else if (line.includes(builder)) problems.push(`${where}: the final stage builds the bundle (its dev dependencies would ship)`);
  const runs = stages.flatMap((s) => ofStage(s, 'RUN').map((i) => ({ stage: s, args: i.args })));
  for (const r of runs) {
    const devInstall = /\bnpm (ci|install|i)\b/.test(r.args) && !/--omit=dev\b/.test(r.args);
    // A stage the build stage starts FROM is part of it.
    const inBuild = builder !== undefined && imageOf(stages.slice(0, stages.indexOf(builder) + 1))?.line.includes(r.stage);
    if (devInstall && (!inBuild || line.includes(r.stage))) problems.push(`${where}: "${r.args}" installs dev dependencies outside the build stage`);
  }
  if (builder && !line.includes(builder)) {
    const fromBuilder = ofStage(final, 'COPY').filter((i) => i.args.includes(`--from=${builder.name}`));
    const copied = fromBuilder.map((i) => i.args.replace(/--\S+\s*/g, '').trim());
    if (!copied.includes(`/app/${bundle} ${bundle}`)) problems.push(`${where}: the final stage does not copy /app/${bundle} from stage ${builder.name}`);
    for (const c of copied.filter((c) => c !== `/app/${bundle} ${bundle}`)) problems.push(`${where}: the final stage copies "${c}" from the build stage (only the bundle may leave it)`);
  }
  const installer = stages.find((s) => ofStage(s, 'RUN').some((i) => /\bnpm ci\b.*--omit=dev/.test(i.args)));
  if (!installer) problems.push(`${where}: no stage runs npm ci --omit=dev`);
  else if (!line.includes(installer)) {
    const copied = ofStage(final, 'COPY').some((i) => i.args.includes(`--from=${installer.name}`) && /node_modules/.test(i.args));
    if (!copied) problems.push(`${where}: the final stage does not take node_modules from stage ${installer.name}`);
  }
  const installLine = installer ? (imageOf(stages.slice(0, stages.indexOf(installer) + 1))?.line ?? []) : [];
  if (installer && !installLine.flatMap(copySources).includes('package-lock.json')) problems.push(`${where}: npm ci runs without package-lock.json`);

  // What the runtime image holds: node_modules and the bundle, both from earlier stages; nothing
  // from the context (no TypeScript, no libs). The build stage takes this app and no other.
  for (const src of copySources(final)) problems.push(`${where}: the final stage copies ${src} from the context (the image runs the bundle only)`);
  for (const s of stages) {
    for (const src of copySources(s)) {
      if (src === '.' || src === './') problems.push(`${where}: stage ${s.name ?? '?'} copies the whole context`);
      else if (/^apps\//.test(src) && !src.startsWith(`apps/${app}/`)) problems.push(`${where}: copies ${src}, another app`);
      else if (!existsSync(join(ROOT, src))) problems.push(`${where}: COPY source ${src} does not exist`);
    }
  }

  const users = ofStage(final, 'USER').map((i) => i.args.trim());
  const user = users[users.length - 1];
  if (!user) problems.push(`${where}: no USER in the final stage (it would run as root)`);
  else if (/^(root|0)(:.*)?$/.test(user)) problems.push(`${where}: USER ${user} is root`);

  const env = envOf(final);
  if (env.NODE_ENV !== 'production') problems.push(`${where}: NODE_ENV is ${env.NODE_ENV}, not production`);
  if (env.METADATA_SERVER_DETECTION !== 'none') problems.push(`${where}: METADATA_SERVER_DETECTION is not none`);
  for (const key of Object.keys(env)) {
    if (!knownTo(app, key) && !EXTRA_ENV.has(key)) problems.push(`${where}: ENV ${key} is not in the ${app} config schema`);
  }
  if (env.PORT !== undefined && Number(env.PORT) !== port) problems.push(`${where}: ENV PORT=${env.PORT}, the default is ${port}`);

  const exposed = ofStage(final, 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => p.split('/')[0]));
  // The app's port, then its admin port (/metrics) where its config has one.
  const expected = [port, adminPortOf(app)].filter((p) => p !== undefined).map(String);
  if (exposed.join(' ') !== expected.join(' ')) problems.push(`${where}: EXPOSE ${exposed.join(' ')}, expected ${expected.join(' ')}`);
  if (env.ADMIN_PORT !== undefined && Number(env.ADMIN_PORT) !== adminPortOf(app)) {
    problems.push(`${where}: ENV ADMIN_PORT=${env.ADMIN_PORT}, the default is ${adminPortOf(app)}`);
  }

  const healthchecks = ofStage(final, 'HEALTHCHECK');
  if (healthchecks.length !== 1) problems.push(`${where}: ${healthchecks.length} HEALTHCHECK instructions in the final stage, expected 1`);
  for (const h of healthchecks) {
    const cmd = /(?:^|\s)CMD\s+(.*)$/.exec(h.args)?.[1] ?? '';
    const hitsPort = cmd.includes(`:${port}/healthz`) || (cmd.includes("process.env.PORT + '/healthz'") && Number(env.PORT) === port);
    if (!cmd.includes('/healthz')) problems.push(`${where}: the HEALTHCHECK does not ask /healthz`);
    else if (!hitsPort) problems.push(`${where}: the HEALTHCHECK does not ask /healthz on port ${port}`);
  }

  if (ofStage(final, 'ENTRYPOINT').length > 0) problems.push(`${where}: an ENTRYPOINT wraps the command (node must be PID 1 for SIGTERM)`);
  const cmds = ofStage(final, 'CMD');
  const cmd = cmds.length === 1 ? execForm(cmds[0].args) : undefined;
  const main = `${bundle}main.js`;
  // Node's own flags may come between (V8 flags that NODE_OPTIONS refuses, such as --single-threaded-gc).
  const flags = cmd?.slice(2, -1) ?? [];
  if (cmd?.[0] !== 'node' || cmd[1] !== '--enable-source-maps' || cmd[cmd.length - 1] !== main || !flags.every((f) => NODE_FLAG.test(f))) {
    problems.push(`${where}: CMD ${cmds.map((c) => c.args).join(' | ')} is not ["node", "--enable-source-maps", (--flags,) "${main}"] in exec form`);
  }
  if (!existsSync(join(ROOT, 'apps', app, 'src', 'main.ts'))) problems.push(`${where}: apps/${app}/src/main.ts (the bundle's entry) does not exist`);
  return problems;
}

/** A node or V8 flag on the command line: `--name` or `--name=value`. */
const NODE_FLAG = /^--[a-z][a-z0-9-]*(=[^\s=]+)?$/;

/** What an app's own stage may do: everything else is shared by the three images. */
const APP_STAGE_KEYWORDS = new Set(['ENV', 'EXPOSE', 'CMD']);

/**
 * The Dockerfile's shape for the three apps: APP is a build argument without a default, the last
 * stage starts FROM the app's stage, each app has that stage and it holds only what differs between
 * the apps (its ENV, EXPOSE and CMD).
 */
function checkAppStages(text: string): string[] {
  const problems: string[] = [];
  const globalArgs = text.slice(0, text.search(/^FROM\s/im)).match(/^ARG\s+.*$/gim) ?? [];
  if (!globalArgs.some((a) => /^ARG\s+APP\s*$/i.test(a))) problems.push(`Dockerfile: no "ARG APP" without a default before the first FROM (${globalArgs.join(' | ') || 'none'})`);
  const stages = parseDockerfile(text);
  const last = stages[stages.length - 1];
  if (last?.image !== '${APP}') problems.push(`Dockerfile: the last stage is FROM ${last?.image}, not FROM \${APP} (the app's stage)`);
  for (const app of APP_NAMES) {
    const own = stages.filter((s) => s.name === app);
    if (own.length !== 1) {
      problems.push(`Dockerfile: ${own.length} stages named ${app}, expected 1`);
      continue;
    }
    for (const i of own[0].instructions.filter((i) => !APP_STAGE_KEYWORDS.has(i.keyword))) {
      problems.push(`Dockerfile: stage ${app} has ${i.keyword} ${i.args} (an app's stage holds only ${[...APP_STAGE_KEYWORDS].join(', ')}; the rest is shared)`);
    }
  }
  return problems;
}

/** Every file named Dockerfile* in the repository, relative to its root. */
function dockerfilesInRepo(dir = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    if (['node_modules', '.git', '.nx', '.herald', 'dist', 'coverage'].includes(entry.name)) continue;
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...dockerfilesInRepo(rel));
    else if (/^Dockerfile/.test(entry.name)) found.push(rel);
  }
  return found;
}

const dockerfile = read('Dockerfile');

describe('Dockerfile', () => {
  it.each(APP_NAMES)('APP=%s: multi-stage, production dependencies, non-root, port, healthcheck, command', (app) => {
    expect(checkAppImage(app, dockerfile)).toEqual([]);
  });

  it('the apps share every stage but their own (ENV, EXPOSE, CMD), which APP chooses', () => {
    expect(checkAppStages(dockerfile)).toEqual([]);
  });

  it('there is no other Dockerfile (one for the three apps, nothing to drift apart)', () => {
    expect(dockerfilesInRepo()).toEqual(['Dockerfile']);
  });

  it('catches a single stage, dev dependencies, root, a wrong port and a wrong command', () => {
    const oneStage = `FROM node:20-bookworm-slim\n${dockerfile.replace(/^FROM .*$/gm, '')}`;
    expect(checkAppImage('gateway', oneStage).join('\n')).toMatch(/1 stage\(s\), not multi-stage/);

    const broken = dockerfile
      .replace('npm ci --omit=dev', 'npm ci')
      .replace('USER node', 'USER root')
      .replace('EXPOSE 8080 9080', 'EXPOSE 8081')
      .replace('PORT=8080', 'PORT=9090')
      .replace('"dist/apps/gateway/main.js"', '"dist/apps/gateway/server.js"')
      .replace('COPY libs/ libs/', 'COPY libs/ libs/\nCOPY apps/ingest/ apps/ingest/');
    const problems = checkAppImage('gateway', broken).join('\n');
    expect(problems).toMatch(/"--mount=type=cache,target=\/root\/.npm npm ci" installs dev dependencies outside the build stage/);
    expect(problems).toMatch(/no stage runs npm ci --omit=dev/);
    expect(problems).toMatch(/USER root is root/);
    expect(problems).toMatch(/EXPOSE 8081, expected 8080 9080/);
    expect(problems).toMatch(/ENV PORT=9090, the default is 8080/);
    expect(problems).toMatch(/the HEALTHCHECK does not ask \/healthz on port 8080/);
    expect(problems).toMatch(/CMD .* is not \["node", "--enable-source-maps", \(--flags,\) "dist\/apps\/gateway\/main.js"\]/);
    expect(problems).toMatch(/copies apps\/ingest\/, another app/);
  });

  it('catches sources or dev dependencies in the image and a missing build', () => {
    const withSources = dockerfile.replace(
      'COPY --from=build /app/dist/apps/${APP}/ dist/apps/${APP}/',
      'COPY --from=build /app/dist/apps/${APP}/ dist/apps/${APP}/\nCOPY --from=build /app/node_modules ./node_modules\nCOPY libs/ libs/',
    );
    const problems = checkAppImage('gateway', withSources).join('\n');
    expect(problems).toMatch(/copies "\/app\/node_modules .\/node_modules" from the build stage \(only the bundle may leave it\)/);
    expect(problems).toMatch(/the final stage copies libs\/ from the context/);

    const unbuilt = dockerfile
      .replace('RUN node --import tsx tools/build/src/main.ts ${APP}', '')
      .replace('COPY --from=build /app/dist/apps/${APP}/ dist/apps/${APP}/', 'COPY apps/${APP}/ apps/${APP}/');
    const unbuiltProblems = checkAppImage('gateway', unbuilt).join('\n');
    expect(unbuiltProblems).toMatch(/no stage runs "node --import tsx tools\/build\/src\/main.ts gateway"/);
    expect(unbuiltProblems).toMatch(/"--mount=type=cache,target=\/root\/.npm npm ci" installs dev dependencies outside the build stage/);
    expect(unbuiltProblems).toMatch(/the final stage copies apps\/gateway\/ from the context/);
  });

  it('tsx, which runs TypeScript, is a dev dependency only: the images do not have it', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(pkg.dependencies.tsx).toBeUndefined();
    expect(pkg.devDependencies.tsx).toBeDefined();
  });

  it('catches a missing healthcheck, user and a shell-form command', () => {
    const broken = dockerfile
      .replace(/^HEALTHCHECK[^\n]*\\\n[^\n]*\n/m, '')
      .replace(/^USER node\n/m, '')
      .replace(/^CMD \[.*ingest.*\]$/m, 'CMD node --enable-source-maps dist/apps/ingest/main.js')
      .replace('ENV NODE_ENV=production', 'ENV REDIS_CLUSTER=1 NODE_ENV=production');
    const problems = checkAppImage('ingest', broken).join('\n');
    expect(problems).toMatch(/0 HEALTHCHECK instructions/);
    expect(problems).toMatch(/no USER in the final stage/);
    expect(problems).toMatch(/CMD node --enable-source-maps dist\/apps\/ingest\/main.js is not .* in exec form/);
    expect(problems).toMatch(/ENV REDIS_CLUSTER is not in the ingest config schema/);
  });

  it("takes node's flags between the source maps and the bundle, and nothing else there", () => {
    const withScript = dockerfile.replace(
      /^CMD \[.*gateway.*\]$/m,
      'CMD ["node", "--enable-source-maps", "--single-threaded-gc", "dist/apps/other.js", "dist/apps/gateway/main.js"]',
    );
    expect(checkAppImage('gateway', withScript).join('\n')).toMatch(/CMD .*other\.js.* is not \["node", "--enable-source-maps", \(--flags,\) "dist\/apps\/gateway\/main.js"\]/);
    const withFlags = dockerfile.replace(
      /^CMD \[.*gateway.*\]$/m,
      'CMD ["node", "--enable-source-maps", "--single-threaded-gc", "--stack-trace-limit=20", "dist/apps/gateway/main.js"]',
    );
    expect(checkAppImage('gateway', withFlags)).toEqual([]);
  });

  it('catches an app stage doing more than its settings, a default APP, a missing app stage and a fixed last stage', () => {
    const drifted = dockerfile
      .replace(/^ARG APP$/m, 'ARG APP=gateway')
      .replace('FROM runtime AS ingest', 'FROM runtime AS ingest\nRUN apt-get install -y curl')
      .replace('FROM runtime AS exposure-consumer', 'FROM runtime AS consumer')
      .replace('FROM ${APP} AS image', 'FROM gateway AS image');
    const problems = checkAppStages(drifted).join('\n');
    expect(problems).toMatch(/no "ARG APP" without a default before the first FROM \(ARG APP=gateway\)/);
    expect(problems).toMatch(/stage ingest has RUN apt-get install -y curl/);
    expect(problems).toMatch(/0 stages named exposure-consumer, expected 1/);
    expect(problems).toMatch(/the last stage is FROM gateway, not FROM \$\{APP\}/);
    expect(checkAppStages(dockerfile)).toEqual([]);
  });

  it('catches a stage that uses ${APP} without declaring it (Docker would read an empty name)', () => {
    const undeclared = dockerfile.replace('FROM npm AS build\nARG APP\n', 'FROM npm AS build\n');
    expect(undeclared).not.toBe(dockerfile);
    const problems = checkAppImage('ingest', undeclared).join('\n');
    expect(problems).toMatch(/no stage runs "node --import tsx tools\/build\/src\/main.ts ingest"/);
    expect(problems).toMatch(/copies apps\/\/, another app/);
  });

  it('.dockerignore keeps local state and tests out of the context', () => {
    const lines = read('.dockerignore').split('\n').map((l) => l.trim());
    const ignored = (name: string) => lines.includes(name) || lines.includes(`**/${name}`);
    expect(['node_modules', '.nx', '.herald', 'dist', 'coverage', '.git', '.env', 'test', '*.spec.ts'].filter((n) => !ignored(n))).toEqual([]);
    // The build needs these; an ignore rule that matched them would break every image.
    const needed = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json', 'libs', 'apps', 'tools', 'tools/build'];
    expect(needed.filter((n) => lines.includes(n) || lines.includes(`${n}/`) || lines.includes('*'))).toEqual([]);
  });
});
