import { render } from "preact";
import { useEffect } from "preact/hooks";
import { ErrorBoundary, LocationProvider, lazy, Route, Router, useLocation } from "preact-iso";
import { Catalog } from "./pages/Catalog.tsx";
import { SessionGate, useSession } from "./session.tsx";
import "./styles.css";

/**
 * The console: a single-page app under /ui. The catalog is in the first
 * bundle; every other page loads on first use, so the first page stays small.
 * Each page has its own URL (/ui/runs/{id}, /ui/workflows/{name}), which the
 * server answers with this app, so links can be shared.
 */
const WorkflowPage = lazy(() => import("./pages/WorkflowPage.tsx").then((m) => m.WorkflowPage));
const RunsPage = lazy(() => import("./pages/RunsPage.tsx").then((m) => m.RunsPage));
const RunPage = lazy(() => import("./run/RunPage.tsx").then((m) => m.RunPage));
const ModelsPage = lazy(() => import("./pages/ModelsPage.tsx").then((m) => m.ModelsPage));
const ModelPage = lazy(() => import("./pages/ModelPage.tsx").then((m) => m.ModelPage));
const DeadLettersPage = lazy(() => import("./pages/DeadLettersPage.tsx").then((m) => m.DeadLettersPage));

const SECTIONS = [
  {
    href: "/ui/",
    label: "Workflows",
    match: (path: string) => path === "/ui/" || path.startsWith("/ui/workflows"),
  },
  { href: "/ui/runs", label: "Runs", match: (path: string) => path.startsWith("/ui/runs") },
  { href: "/ui/models", label: "Models", match: (path: string) => path.startsWith("/ui/models") },
  {
    href: "/ui/dead-letters",
    label: "Dead letters",
    match: (path: string) => path.startsWith("/ui/dead-letters"),
  },
];

function Shell() {
  const { path } = useLocation();
  const session = useSession();
  // Move focus to the new page's heading, so keyboard and screen-reader users land on it.
  useEffect(() => {
    const heading = document.querySelector<HTMLElement>("main h1");
    heading?.focus({ preventScroll: true });
  }, [path]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/ui/">
          pflow
        </a>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map((section) => (
              <li key={section.href}>
                <a href={section.href} aria-current={section.match(path) ? "page" : undefined}>
                  {section.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span title="The API key this console uses">{session.name}</span>
          {session.name !== "local" && (
            <button type="button" class="link" onClick={session.signOut}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <main id="main">
        <ErrorBoundary>
          <Router>
            <Route path="/ui/" component={Catalog} />
            <Route path="/ui/workflows/:name" component={WorkflowPage} />
            <Route path="/ui/runs" component={RunsPage} />
            <Route path="/ui/runs/:id" component={RunPage} />
            <Route path="/ui/models" component={ModelsPage} />
            <Route path="/ui/models/:name" component={ModelPage} />
            <Route path="/ui/dead-letters" component={DeadLettersPage} />
            <Route default component={NotFound} />
          </Router>
        </ErrorBoundary>
      </main>
    </>
  );
}

function NotFound() {
  return (
    <section>
      <h1 tabIndex={-1}>Not found</h1>
      <p>
        There is no page at this address. <a href="/ui/">Go to the workflows</a>.
      </p>
    </section>
  );
}

function App() {
  return (
    <LocationProvider>
      <SessionGate>
        <Shell />
      </SessionGate>
    </LocationProvider>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
