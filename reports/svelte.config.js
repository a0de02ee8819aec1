// Merged by Evidence into its own SvelteKit config (.evidence/template/svelte.config.js).
//
// The report is built as a single-page app (the report build sets VITE_EVIDENCE_SPA=true, see
// orchestration/reporting/evidence.py): no page is prerendered, every page runs its queries in
// the reader's browser (DuckDB-WASM, from the parquet files of `npm run sources`), so a build
// holds no data and is reused from month to month while the pages do not change. Prerendering
// the 32 pages was most of the old 150-second build. The fallback page, index.html, renders
// any route: whatever serves the site must answer a path it has no file for with index.html
// (docs/operations.md).
import adapter from '@sveltejs/adapter-static';

export default {
	kit: {
		adapter: adapter({ strict: false, fallback: 'index.html' })
	}
};
