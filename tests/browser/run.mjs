// Browser tests of the clins-hub pages against a running `clins-hub demo`.
//
//   CLINS_BASE=http://127.0.0.1:PORT CLINS_DEMO=demo-banner.txt node run.mjs [ARTIFACTS_DIR]
//
// CLINS_DEMO is the demo's printed banner (passwords, TOTP secrets, the example patient). Drives
// Debian's chromium (CHROMIUM, default /usr/bin/chromium) with playwright-core; checks every page
// with axe-core (no serious or critical violation) and html-validate, logs every request and
// fails on any to another host, and writes a screenshot of each main page. Exit code 0: all passed.
import { chromium } from 'playwright-core';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { HtmlValidate } from 'html-validate';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const base = process.env.CLINS_BASE;
const banner = readFileSync(process.env.CLINS_DEMO, 'utf8');
const out = process.argv[2] || 'browser-artifacts';
mkdirSync(out, { recursive: true });

const failures = [];
let checks = 0;
function check(ok, what) {
  checks++;
  if (!ok) { failures.push(what); console.log(`FAIL ${what}`); } else { console.log(`ok   ${what}`); }
}

// The demo's people, from its banner.
function person(re) {
  const m = banner.match(re);
  if (!m) throw new Error(`not in the demo banner: ${re}`);
  return m;
}
const doctor = person(/staff doctor of (\d{10}) \(doctor[^:]*: password (\S+), TOTP secret ([A-Z2-7]+)/);
const member = person(/patient \(login: the member id (\S+)\)/)[1];

// RFC 6238 TOTP (SHA-1, 30 s, 6 digits) from a base32 secret.
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1e6).padStart(6, '0');
}

const validator = new HtmlValidate({
  extends: ['html-validate:recommended'],
  rules: {
    // Tables of facts use <th scope> in the header; a summary row's first cell is a th.
    'no-inline-style': 'error',
    'require-sri': 'off', // every resource is the hub's own (same origin)
    'no-redundant-role': 'off', // role="search" on a form is the ARIA 1.2 way for older readers
  },
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});

const foreign = [];
async function context() {
  const ctx = await browser.newContext({ locale: 'ja-JP' });
  ctx.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(base) && !u.startsWith('data:') && !u.startsWith('about:')) foreign.push(u);
  });
  return ctx;
}

// Every page: axe-core (no serious or critical violation), html-validate of the bytes the
// server sent, no console error (a CSP violation shows there), and a screenshot.
async function audit(page, name) {
  await page.evaluate(axeSource);
  const res = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(bad.length === 0, `${name}: axe-core finds no serious or critical violation${bad.length ? ': ' + bad.map((v) => `${v.id} (${v.nodes.length})`).join(', ') : ''}`);
  const html = await (await page.request.get(page.url())).text();
  const report = await validator.validateString(html, `${name}.html`);
  const msgs = report.results.flatMap((r) => r.messages).map((m) => `${m.ruleId} ${m.line}:${m.column} ${m.message}`);
  check(report.valid, `${name}: HTML validates${msgs.length ? ': ' + msgs.slice(0, 5).join(' | ') : ''}`);
  await page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
}

function watchConsole(page, name) {
  // A refused sign-in answers 401 on purpose; anything else (a CSP violation, a script error) fails.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) failures.push(`${name}: console error: ${m.text()}`);
  });
}

try {
  // 1. The start page.
  const dctx = await context();
  const d = await dctx.newPage();
  watchConsole(d, 'doctor');
  await d.goto(`${base}/`);
  check(await d.locator('html[lang="ja"]').count() === 1, 'start page is Japanese first (lang="ja")');
  check(await d.locator('form[action="/demo/signin/doctor"] button').count() === 1, 'start page offers the one-click sign-ins');
  await audit(d, '01-start');

  // 2. Staff sign-in with password and TOTP.
  await d.goto(`${base}/viewer`);
  check(d.url().endsWith('/viewer/signin'), 'the viewer sends a signed-out person to its sign-in page');
  await audit(d, '02-viewer-signin');
  await d.fill('#institution', doctor[1]);
  await d.fill('#login', 'doctor');
  await d.fill('#password', 'wrong-password-1');
  await d.fill('#totp', '000000');
  await d.click('main button[type="submit"]');
  check(await d.locator('.note.error').count() === 1, 'a wrong password is refused with a message');
  await d.fill('#institution', doctor[1]);
  await d.fill('#login', 'doctor');
  await d.fill('#password', doctor[2]);
  await d.fill('#totp', totp(doctor[3]));
  await d.click('main button[type="submit"]');
  check(new URL(d.url()).pathname === '/viewer', 'password + TOTP signs the doctor in');
  await audit(d, '03-viewer-lookup');

  // 3. Lookup without consent: the consent state, then the card consent (demo).
  await d.fill('#member', member);
  await d.click('main form[role="search"] button');
  check(await d.locator('form[action="/viewer/consent"]').count() === 1, 'without consent the page says so and offers the card consent (demo)');
  check(await d.locator('section.danger').count() === 0, 'nothing of the record is shown without consent');
  await audit(d, '04-viewer-no-consent');
  await d.click('form[action="/viewer/consent"] button');
  check(await d.locator('section.danger').count() === 1, 'after the consent the summary opens with the red band');
  const bannerText = await d.locator('section.banner').innerText();
  check(bannerText.includes('閲覧同意あり'), 'the banner shows the consent state');
  check(await d.locator('table.labs svg.chart').count() > 0, 'labs have SVG trend charts');
  check(await d.locator('svg.chart .band').count() > 0, 'a chart draws the reference range');
  await d.locator('table.labs details').first().evaluate((e) => { e.open = true; });
  await audit(d, '05-viewer-summary');
  const facility = (await d.locator('section.danger .src, section .src').first().innerText());
  check(facility.length > 0, 'every fact carries its source');

  // Documents of the patient: listed on the summary, one opened section by section.
  check(await d.locator('table.docs, #h-docs + p.none').count() >= 1, 'the summary lists the patient\'s documents (or says there are none)');
  if (await d.locator('table.docs a').count() > 0) {
    const summaryUrl = d.url();
    await d.locator('table.docs a').first().click();
    check(await d.locator('h1').count() === 1 && new URL(d.url()).pathname === '/viewer/document', 'a document opens');
    check(await d.locator('section.docsec').count() >= 1, 'the document is rendered section by section');
    await audit(d, '05b-viewer-document');
    await d.goto(summaryUrl);
  }
  await d.goto(`${base}/viewer/inbox`);
  check((await d.locator('h1').innerText()).includes('紹介状'), 'the referral inbox opens');
  await audit(d, '05c-viewer-inbox');
  await d.goto(`${base}/viewer/patient?member=${encodeURIComponent(member)}`);

  // 4. English switch.
  await d.click('header a[hreflang="en"]');
  check(await d.locator('html[lang="en"]').count() === 1, 'the language switch shows the page in English');
  check((await d.locator('h1').innerText()).includes('Patient summary'), 'the English page has English headings');
  await d.click('header a[hreflang="ja"]');

  // 5. The patient's portal: the doctor's access in the history, then revocation.
  const pctx = await context();
  const p = await pctx.newPage();
  watchConsole(p, 'patient');
  await p.goto(`${base}/`);
  await p.click('form[action="/demo/signin/patient"] button');
  check(new URL(p.url()).pathname === '/portal', 'the patient signs in to the portal');
  const hist = await p.locator('table.history').innerText();
  const hospitalName = (await d.locator('table').first().innerText()).length > 0;
  check(hospitalName && /病院|医院|クリニック|診療所/.test(hist), 'the access history names the viewing facility');
  check(!hist.includes('doctor'), 'the access history never names the practitioner');
  check(await p.locator('#h-held').count() === 1, 'the portal has a place for referrals waiting for consent');
  await audit(p, '06-portal-home');
  // The demo's example patient has a referral held until they agree (閲覧保留): release it.
  const releases = p.locator('form[action="/portal/release"] button');
  const waiting = await releases.count();
  check(waiting >= 1, 'a referral waiting for consent is listed with a release button');
  if (waiting >= 1) {
    await releases.first().click();
    check(new URL(p.url()).pathname === '/portal', 'releasing returns to the portal');
    check(await p.locator('form[action="/portal/release"] button').count() === waiting - 1, 'the released referral leaves the waiting list');
  }
  await p.click('a[href="/portal/record"]');
  check(await p.locator('section.danger').count() === 1, 'the patient sees their own record');
  await audit(p, '07-portal-record');
  await p.click('a[href="/portal/checkups"]');
  check(new URL(p.url()).pathname === '/portal/checkups', 'the checkup page opens');
  const charts = await p.locator('section.trend svg.chart').count();
  console.log(`     checkup items charted: ${charts}`);
  await audit(p, '07b-portal-checkups');
  await p.click('a[href="/portal/summary"]');
  check(new URL(p.url()).pathname === '/portal/summary' && await p.locator('h1').count() === 1, 'the 患者サマリー page opens');
  await audit(p, '07c-portal-care-plan');
  const dl = await p.request.get(`${base}/portal/download`);
  const bundle = await dl.json();
  check(dl.status() === 200 && bundle.resourceType === 'Bundle' && bundle.entry.length > 1, 'the whole record downloads as a FHIR Bundle');
  await p.goto(`${base}/portal`);
  const revokes = p.locator('form[action="/portal/revoke"] button');
  check(await revokes.count() >= 1, 'the consent is listed with a revoke button');
  while (await revokes.count() > 0) await revokes.first().click();
  check(await p.locator('form[action="/portal/revoke"]').count() === 0, 'revoked consents leave the list');

  // 6. Revocation takes effect at once for the doctor.
  await d.reload();
  check(await d.locator('section.danger').count() === 0, 'after revocation the doctor no longer sees the record');
  check(await d.locator('form[action="/viewer/consent"]').count() === 1, 'after revocation the page shows the consent state again');

  // 7. The emergency flow: reason, the one-time code asked again, a banner while in effect.
  check(await d.locator('form[action="/viewer/emergency"]').count() === 1, 'a doctor with the privilege is offered emergency access');
  // The patient cannot say their member id: identification by the 4 情報 with the reason
  // and the one-time code asked again.
  const own = await (await fetch(`${base}/fhir/Patient/$summary`, { headers: { 'X-Clins-Dev-Patient': encodeURIComponent(member) } })).json();
  const pat = own.entry[0].resource;
  await d.goto(`${base}/viewer`);
  // Without a reason (no disaster declared) the 4 情報 lookup is refused.
  await d.fill('#q-name', pat.name[0].text);
  await d.fill('#q-birth', pat.birthDate);
  await d.selectOption('#q-gender', pat.gender);
  await d.fill('#q-address', (pat.address && pat.address[0] && pat.address[0].text) || '');
  const refusedLookup = d.waitForResponse((r) => r.url().endsWith('/viewer/identify'));
  await d.click('form[action="/viewer/identify"] button');
  check((await refusedLookup).status() === 403, 'the 4 情報 lookup without emergency or disaster is refused (403)');
  await d.goto(`${base}/viewer`);
  await d.fill('#q-name', pat.name[0].text);
  await d.fill('#q-birth', pat.birthDate);
  await d.selectOption('#q-gender', pat.gender);
  await d.fill('#q-address', (pat.address && pat.address[0] && pat.address[0].text) || '');
  await d.fill('#q-reason', '意識障害で救急搬送');
  await d.fill('#q-totp', totp(doctor[3], Date.now() + 30000));
  await d.click('form[action="/viewer/identify"] button');
  check(new URL(d.url()).searchParams.get('member') !== null, 'the 4 情報 identify the patient and open their page');
  check(await d.locator('.emergency-banner').count() === 1, 'the emergency banner shows while emergency access is in effect');
  check(await d.locator('section.danger').count() === 1, 'emergency access opens the summary');
  check((await d.locator('section.banner').innerText()).includes('救急時閲覧'), 'the patient banner says emergency access');
  await audit(d, '09-viewer-emergency');
  await p.goto(`${base}/portal`);
  check(await p.locator('table.history tr.emergency').count() >= 1, 'the portal highlights the emergency access');
  // A new visit starts with what is new since the last one: the emergency access is marked.
  await p.goto(`${base}/`);
  await p.click('form[action="/demo/signin/patient"] button');
  check(await p.locator('#h-new').count() === 1, 'a new visit starts with what is new since the last one');
  check((await p.locator('table.history tr.emergency').first().innerText()).includes('新着'), 'the emergency access since the last visit is marked new');
  await audit(p, '07d-portal-new-since');
  await d.click('.emergency-banner button');
  check(await d.locator('.emergency-banner').count() === 0, 'leaving ends emergency access');

  // 8. The operator approves an application.
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'browser-1', use: 'sig', alg: 'ES256' };
  const number = '1312000099';
  const apply = await fetch(`${base}/admin/applications`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ number, kind: 'hospital', name: 'ブラウザ試験病院', address: '東京都千代田区1-1', jwks: { keys: [jwk] } }),
  });
  check(apply.status === 201, `an application is filed (${apply.status})`);
  const octx = await context();
  const o = await octx.newPage();
  watchConsole(o, 'operator');
  await o.goto(`${base}/`);
  await o.click('form[action="/demo/signin/operator"] button');
  check(new URL(o.url()).pathname === '/admin', 'the operator signs in to the console');
  check((await o.locator('main').innerText()).includes('ブラウザ試験病院'), 'the pending application is listed');
  check(await o.locator('table.health svg.spark').count() === 4, 'the console charts this node\'s last minutes');
  await audit(o, '08-admin');
  await o.locator('tr', { hasText: 'ブラウザ試験病院' }).locator('button').click();
  check(!(await o.locator('main').innerText()).includes('ブラウザ試験病院'), 'the approved application leaves the pending list');

  // The registry: the doctor's institution disabled refuses its staff at once; enabled again.
  await o.goto(`${base}/admin/registry?q=${doctor[1]}`);
  await audit(o, '10-admin-registry');
  await o.locator('form[action="/admin/institution"] button').first().click();
  check((await o.locator('main table').innerText()).includes('停止中'), 'the operator disables an institution');
  const disabled = await d.goto(`${base}/viewer`);
  check(disabled.status() === 403 && (await d.locator('.note.error').count()) === 1, 'a disabled institution\'s staff are refused at once (403 page)');
  await o.locator('form[action="/admin/institution"] button').first().click();
  check((await o.locator('main table').innerText()).includes('利用中'), 'the operator enables it again');
  await o.goto(`${base}/admin/usage`);
  check(await o.locator('main table tbody tr').count() >= 1, 'the usage report lists institutions');
  await audit(o, '11-admin-usage');

  // A disaster declared for the doctor's institution: the 4 情報 lookup works without a
  // reason; ended, it is refused again.
  const day = (ms) => new Date(ms).toISOString().slice(0, 10);
  await o.goto(`${base}/admin/disasters`);
  await o.fill('#d-from', day(Date.now() - 86400000));
  await o.fill('#d-to', day(Date.now() + 86400000));
  await o.fill('#d-inst', doctor[1]);
  await o.click('form[action="/admin/disaster"] button');
  check(await o.locator('form[action="/admin/disaster/end"]').count() === 1, 'the operator declares a disaster');
  await audit(o, '12-admin-disasters');
  const lookup4 = async () => {
    await d.goto(`${base}/viewer`);
    await d.fill('#q-name', pat.name[0].text);
    await d.fill('#q-birth', pat.birthDate);
    await d.selectOption('#q-gender', pat.gender);
    await d.fill('#q-address', (pat.address && pat.address[0] && pat.address[0].text) || '');
    const answer = d.waitForResponse((r) => r.url().endsWith('/viewer/identify'));
    await d.click('form[action="/viewer/identify"] button');
    return (await answer).status();
  };
  check(await lookup4() === 303 && (await d.locator('section.banner').innerText()).includes('災害時閲覧'), 'in a declared disaster the 4 情報 open the patient without a reason');
  await o.click('form[action="/admin/disaster/end"] button');
  check(await o.locator('form[action="/admin/disaster/end"]').count() === 0, 'the operator ends the declaration');
  check(await lookup4() === 403, 'after the declaration ends the 4 情報 lookup is refused again');

  // 9. Pages of one kind of person are not open to another.
  await p.goto(`${base}/admin`);
  check(new URL(p.url()).pathname === '/admin/signin', 'a patient session does not open the console');
  await p.goto(`${base}/viewer/patient?member=${encodeURIComponent(member)}`);
  check(new URL(p.url()).pathname === '/viewer/signin', 'a patient session does not open the viewer');
} catch (e) {
  failures.push(`exception: ${e.stack || e}`);
  console.log(e);
}
check(foreign.length === 0, `no request to another host${foreign.length ? ': ' + foreign.join(', ') : ''}`);
await browser.close();
writeFileSync(`${out}/result.txt`, `${checks - failures.length} passed, ${failures.length} failed\n${failures.join('\n')}\n`);
console.log(`${checks - failures.length} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
