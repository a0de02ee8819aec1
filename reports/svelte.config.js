// Merged by Evidence into its own SvelteKit config (.evidence/template/svelte.config.js).
//
// Templated pages (ldus/[ldu_code], interventions/[intervention_code]) are prerendered only if
// the build can find them. Their links are drawn in the browser, so the crawler cannot: the
// report build (orchestration/reporting/site.py) writes the list of their routes, from the
// warehouse it builds from, into prerender-entries.json beside this file.
import fs from 'fs';

const entriesFile = new URL('./prerender-entries.json', import.meta.url);
const entries = fs.existsSync(entriesFile) ? JSON.parse(fs.readFileSync(entriesFile, 'utf-8')) : [];

export default {
	kit: {
		prerender: {
			entries: ['*', ...entries]
		}
	}
};
