// Merged by Evidence into its own SvelteKit config (.evidence/template/svelte.config.js).
//
// Templated pages (ldus/[ldu_code], interventions/[intervention_code]) are left to the browser:
// prerendering all 26 of them was most of the build's time, and each one's queries run as fast
// in the reader's browser (DuckDB-WASM reads the same parquet files). The report build
// (orchestration/reporting/site.py) writes one route of each template, from the warehouse it
// builds from, into prerender-entries.json beside this file: SvelteKit fails a build that
// prerenders no page of a route, and that page also gives the route's metadata to the others.
// Every other LDU or intervention page is served from the fallback page, which renders it in
// the browser, so whatever serves the site must answer an unknown path with `404.html` (see
// docs/operations.md); the printer, which opens every such page once, checks their queries.
import adapter from '@sveltejs/adapter-static';
import fs from 'fs';

const entriesFile = new URL('./prerender-entries.json', import.meta.url);
const entries = fs.existsSync(entriesFile) ? JSON.parse(fs.readFileSync(entriesFile, 'utf-8')) : [];

export default {
	kit: {
		adapter: adapter({ strict: false, fallback: '404.html' }),
		prerender: {
			entries: ['*', ...entries],
			// pages prerendered at once (SvelteKit's default is 1); each waits on DuckDB
			concurrency: 2
		}
	}
};
