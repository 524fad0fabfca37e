//! `cargo xtask deps`: the file-level import graph of every crate of the
//! workspace, and the cycles in it.
//!
//! Cargo already forbids cycles between crates; inside a crate nothing
//! does. Two files that import each other cannot be read, tested or moved
//! apart, so the workspace keeps none (ARCHITECTURE.md). A file depends on
//! another when one of its paths (a `use`, or a `crate::`/`super::`/`self::`
//! or child-module path in code) resolves to an item, or a module, that the
//! other file defines. Resolution follows the module tree from each crate
//! root (`mod x;`, `#[path]`, inline `mod x { }`) and re-exports (`pub use`,
//! globs) to the file that defines the item, so a `lib.rs` that only
//! declares and re-exports is never part of a cycle. `#[cfg(test)]` items
//! are left out: a unit test sits beside what it tests and may use anything
//! of its crate. Paths inside macro invocations are not seen (syn does not
//! parse them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use syn::visit::Visit;

/// One module of a crate: the file it lives in and what it names.
#[derive(Debug, Default)]
struct Module {
    /// The file (for an inline module, the file of its parent).
    file: usize,
    /// Its parent module (none for the root).
    parent: Option<usize>,
    /// Child modules by name.
    children: BTreeMap<String, usize>,
    /// Items defined here (functions, types, constants, macros...).
    items: BTreeSet<String>,
    /// Names brought in by `use`: name to the path it stands for.
    imports: BTreeMap<String, Vec<String>>,
    /// Glob imports (`use a::b::*`): their paths.
    globs: Vec<Vec<String>>,
    /// Paths used in the module (its `use`s and paths in code), with a
    /// line for messages.
    uses: Vec<(Vec<String>, usize)>,
}

/// One crate (a library, a binary, a test, a bench, an example) as a module
/// tree over files.
#[derive(Debug, Default)]
struct CrateGraph {
    files: Vec<PathBuf>,
    modules: Vec<Module>,
}

/// An import of one file by another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Edge {
    /// The importing file.
    pub(crate) from: PathBuf,
    /// The imported file.
    pub(crate) to: PathBuf,
    /// The path that makes the edge, as written.
    pub(crate) path: String,
    /// Its line in `from`.
    pub(crate) line: usize,
}

/// A set of files that import each other, with the edges among them.
#[derive(Debug)]
pub(crate) struct Cycle {
    /// The files, sorted.
    pub(crate) files: Vec<PathBuf>,
    /// The imports among them.
    pub(crate) edges: Vec<Edge>,
}

/// Runs the check over the workspace at `root`, prints what it found and
/// says whether it is clean.
pub(crate) fn run(root: &Path) -> Result<bool> {
    let roots = crate_roots(root)?;
    let mut cycles = Vec::new();
    let mut files = 0;
    for r in &roots {
        let g = CrateGraph::load(r)?;
        files += g.files.len();
        cycles.extend(g.cycles());
    }
    println!(
        "{} crate roots, {files} files, {} import cycle(s)",
        roots.len(),
        cycles.len()
    );
    for c in &cycles {
        let names: Vec<String> = c.files.iter().map(|f| rel(root, f)).collect();
        println!("cycle: {}", names.join(" <-> "));
        for e in &c.edges {
            println!(
                "  {}:{} uses `{}` from {}",
                rel(root, &e.from),
                e.line,
                e.path,
                rel(root, &e.to)
            );
        }
    }
    Ok(cycles.is_empty())
}

fn rel(root: &Path, f: &Path) -> String {
    f.strip_prefix(root).unwrap_or(f).display().to_string()
}

/// Every crate root of the workspace's members and of the cargo-fuzz crate:
/// `src/lib.rs`, `src/main.rs`, `src/bin/*.rs`, and each file of `tests/`,
/// `benches/`, `examples/`, `fuzz_targets/`.
pub(crate) fn crate_roots(root: &Path) -> Result<Vec<PathBuf>> {
    let mut members: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .context("reading crates/")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    members.push(root.join("xtask"));
    // The cargo-fuzz crate lives outside the workspace; its files count too.
    if root.join("fuzz/Cargo.toml").is_file() {
        members.push(root.join("fuzz"));
    }
    members.sort();
    let mut roots = Vec::new();
    for m in members {
        for f in ["src/lib.rs", "src/main.rs"] {
            if m.join(f).is_file() {
                roots.push(m.join(f));
            }
        }
        for dir in ["src/bin", "tests", "benches", "examples", "fuzz_targets"] {
            let Ok(rd) = std::fs::read_dir(m.join(dir)) else {
                continue;
            };
            let mut found: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rs"))
                .collect();
            found.sort();
            roots.extend(found);
        }
    }
    Ok(roots)
}

impl CrateGraph {
    /// Parses the crate rooted at `root` and every file its modules name.
    fn load(root: &Path) -> Result<CrateGraph> {
        let mut g = CrateGraph::default();
        g.load_file(root, None, None, true)?;
        Ok(g)
    }

    /// Loads `path` as module `name` under `parent`; `dir_owner` says
    /// whether its child modules live in its own folder (crate roots and
    /// `mod.rs`) rather than in a folder named after it.
    fn load_file(
        &mut self,
        path: &Path,
        parent: Option<usize>,
        name: Option<&str>,
        dir_owner: bool,
    ) -> Result<usize> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let ast = syn::parse_file(&text).with_context(|| format!("parsing {}", path.display()))?;
        let file = self.files.len();
        self.files.push(path.to_owned());
        let id = self.new_module(file, parent, name);
        let child_dir = if dir_owner {
            path.parent().unwrap_or(Path::new(".")).to_owned()
        } else {
            path.with_extension("")
        };
        self.items(&ast.items, id, &child_dir)?;
        Ok(id)
    }

    fn new_module(&mut self, file: usize, parent: Option<usize>, name: Option<&str>) -> usize {
        let id = self.modules.len();
        self.modules.push(Module {
            file,
            parent,
            ..Module::default()
        });
        if let (Some(p), Some(n)) = (parent, name) {
            self.modules[p].children.insert(n.to_owned(), id);
        }
        id
    }

    /// Records the items of module `id`, loading its out-of-line modules
    /// from `dir`.
    fn items(&mut self, items: &[syn::Item], id: usize, dir: &Path) -> Result<()> {
        for item in items {
            if cfg_test(item) {
                continue;
            }
            match item {
                syn::Item::Mod(m) => {
                    let name = m.ident.to_string();
                    if let Some((_, inner)) = &m.content {
                        let file = self.modules[id].file;
                        let child = self.new_module(file, Some(id), Some(&name));
                        self.items(inner, child, &dir.join(&name))?;
                        continue;
                    }
                    let (path, owner) = match path_attr(&m.attrs) {
                        Some(p) => (dir.join(p), true),
                        None if dir.join(format!("{name}.rs")).is_file() => {
                            (dir.join(format!("{name}.rs")), false)
                        }
                        None => (dir.join(&name).join("mod.rs"), true),
                    };
                    self.load_file(&path, Some(id), Some(&name), owner)?;
                }
                syn::Item::Use(u) => {
                    let line = u.use_token.span.start().line;
                    let mut flat = Vec::new();
                    flatten_use(&u.tree, &mut Vec::new(), &mut flat);
                    let m = &mut self.modules[id];
                    for (path, alias) in flat {
                        match alias {
                            Some(a) => {
                                m.imports.insert(a, path.clone());
                            }
                            None => m.globs.push(path.clone()),
                        }
                        m.uses.push((path, line));
                    }
                }
                other => {
                    if let Some(name) = item_name(other) {
                        self.modules[id].items.insert(name);
                    }
                    let mut v = PathCollector::default();
                    v.visit_item(other);
                    self.modules[id].uses.extend(v.paths);
                }
            }
        }
        Ok(())
    }

    /// The file that `path`, written in module `from`, names: `None` for
    /// another crate.
    fn resolve(&self, from: usize, path: &[String], depth: usize) -> Option<usize> {
        if depth > 16 {
            return None;
        }
        let (mut at, rest) = self.start(from, path)?;
        for (i, seg) in rest.iter().enumerate() {
            let m = &self.modules[at];
            if let Some(&c) = m.children.get(seg) {
                at = c;
                continue;
            }
            if m.items.contains(seg) {
                return Some(m.file);
            }
            if let Some(target) = m.imports.get(seg) {
                let mut full = target.clone();
                full.extend(rest[i + 1..].iter().cloned());
                return Some(self.resolve(at, &full, depth + 1).unwrap_or(m.file));
            }
            for g in &m.globs {
                let mut full = g.clone();
                full.extend(rest[i..].iter().cloned());
                if let Some(f) = self.resolve(at, &full, depth + 1) {
                    if f != m.file {
                        return Some(f);
                    }
                }
            }
            return Some(m.file);
        }
        Some(self.modules[at].file)
    }

    /// Where `path` starts: the module its first segments name, and the
    /// segments left; `None` for a path into another crate.
    fn start<'p>(&self, from: usize, path: &'p [String]) -> Option<(usize, &'p [String])> {
        let first = path.first()?;
        match first.as_str() {
            "crate" => Some((0, &path[1..])),
            "self" => Some((from, &path[1..])),
            "super" => {
                let mut at = from;
                let mut i = 0;
                while path.get(i).is_some_and(|s| s == "super") {
                    at = self.modules[at].parent?;
                    i += 1;
                }
                Some((at, &path[i..]))
            }
            name => {
                let m = &self.modules[from];
                let local = m.children.contains_key(name)
                    || m.items.contains(name)
                    || m.imports.contains_key(name);
                local.then_some((from, path))
            }
        }
    }

    /// The file-level edges of the crate.
    fn edges(&self) -> Vec<Edge> {
        let mut out = BTreeSet::new();
        for (id, m) in self.modules.iter().enumerate() {
            for (path, line) in &m.uses {
                let Some(to) = self.resolve(id, path, 0) else {
                    continue;
                };
                if to != m.file {
                    out.insert(Edge {
                        from: self.files[m.file].clone(),
                        to: self.files[to].clone(),
                        path: path.join("::"),
                        line: *line,
                    });
                }
            }
        }
        out.into_iter().collect()
    }

    /// The strongly connected sets of more than one file.
    fn cycles(&self) -> Vec<Cycle> {
        let edges = self.edges();
        cycles_of(&edges)
    }
}

/// The cycles among `edges` (Tarjan's strongly connected components).
pub(crate) fn cycles_of(edges: &[Edge]) -> Vec<Cycle> {
    let mut nodes: BTreeMap<&Path, usize> = BTreeMap::new();
    for e in edges {
        let n = nodes.len();
        nodes.entry(&e.from).or_insert(n);
        let n = nodes.len();
        nodes.entry(&e.to).or_insert(n);
    }
    let names: Vec<&Path> = {
        let mut v = vec![Path::new(""); nodes.len()];
        for (p, &i) in &nodes {
            v[i] = p;
        }
        v
    };
    let mut adj = vec![Vec::new(); nodes.len()];
    for e in edges {
        adj[nodes[e.from.as_path()]].push(nodes[e.to.as_path()]);
    }
    let comps = tarjan(&adj);
    comps
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            let set: BTreeSet<&Path> = c.iter().map(|&i| names[i]).collect();
            Cycle {
                files: set.iter().map(|p| p.to_path_buf()).collect(),
                edges: edges
                    .iter()
                    .filter(|e| set.contains(e.from.as_path()) && set.contains(e.to.as_path()))
                    .cloned()
                    .collect(),
            }
        })
        .collect()
}

/// Strongly connected components, iteratively (no recursion limit).
fn tarjan(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = adj.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for s in 0..n {
        if index[s] != usize::MAX {
            continue;
        }
        let mut work = vec![(s, 0usize)];
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if *i == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = adj[v].get(*i) {
                *i += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(u, _)) = work.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(comp);
            }
        }
    }
    out
}

/// Whether the item is `#[cfg(test)]`: unit tests sit beside what they
/// test and may use anything of their crate (a round trip through the
/// decoder, say); they are consumers, not part of the layering.
fn cfg_test(item: &syn::Item) -> bool {
    let attrs = match item {
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        _ => return false,
    };
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
    })
}

/// `#[path = "..."]` on a module.
fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| {
        if !a.path().is_ident("path") {
            return None;
        }
        let syn::Meta::NameValue(nv) = &a.meta else {
            return None;
        };
        match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        }
    })
}

/// The name an item defines in its module's namespace.
fn item_name(item: &syn::Item) -> Option<String> {
    let id = match item {
        syn::Item::Const(i) => &i.ident,
        syn::Item::Enum(i) => &i.ident,
        syn::Item::Fn(i) => &i.sig.ident,
        syn::Item::Static(i) => &i.ident,
        syn::Item::Struct(i) => &i.ident,
        syn::Item::Trait(i) => &i.ident,
        syn::Item::TraitAlias(i) => &i.ident,
        syn::Item::Type(i) => &i.ident,
        syn::Item::Union(i) => &i.ident,
        syn::Item::Macro(i) => i.ident.as_ref()?,
        _ => return None,
    };
    Some(id.to_string())
}

/// The paths of a use tree: each with the name it binds (`None`: a glob).
fn flatten_use(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                if let Some(last) = prefix.last() {
                    out.push((prefix.clone(), Some(last.clone())));
                }
            } else {
                let mut p = prefix.clone();
                p.push(name.clone());
                out.push((p, Some(name)));
            }
        }
        syn::UseTree::Rename(r) => {
            let name = r.ident.to_string();
            let mut p = prefix.clone();
            if name != "self" {
                p.push(name);
            }
            out.push((p, Some(r.rename.to_string())));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), None)),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(t, prefix, out);
            }
        }
    }
}

/// Collects the paths of code in an item (types, expressions, patterns,
/// `use`s inside functions), skipping nested modules (they are modules of
/// their own).
#[derive(Default)]
struct PathCollector {
    paths: Vec<(Vec<String>, usize)>,
}

impl<'ast> Visit<'ast> for PathCollector {
    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segs.len() > 1 {
            let line = p
                .segments
                .first()
                .map_or(0, |s| s.ident.span().start().line);
            self.paths.push((segs, line));
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut flat = Vec::new();
        flatten_use(&u.tree, &mut Vec::new(), &mut flat);
        let line = u.use_token.span.start().line;
        self.paths.extend(flat.into_iter().map(|(p, _)| (p, line)));
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `files` under a fresh folder and loads the crate at `lib.rs`.
    fn graph(name: &str, files: &[(&str, &str)]) -> (PathBuf, CrateGraph) {
        let dir = std::env::temp_dir().join(format!("xtask-deps-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (f, text) in files {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let g = CrateGraph::load(&dir.join("lib.rs")).unwrap();
        (dir, g)
    }

    fn names(dir: &Path, c: &Cycle) -> Vec<String> {
        c.files.iter().map(|f| rel(dir, f)).collect()
    }

    #[test]
    fn two_files_importing_each_other_are_a_cycle() {
        let (dir, g) = graph(
            "pair",
            &[
                ("lib.rs", "mod a;\nmod b;\n"),
                ("a.rs", "use crate::b::B;\npub struct A;\n"),
                ("b.rs", "pub struct B;\nfn f() { let _ = super::a::A; }\n"),
            ],
        );
        let c = g.cycles();
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(names(&dir, &c[0]), ["a.rs", "b.rs"]);
        assert_eq!(c[0].edges.len(), 2);
    }

    #[test]
    fn a_root_that_declares_and_reexports_is_no_cycle() {
        let (_, g) = graph(
            "reexport",
            &[
                ("lib.rs", "mod a;\nmod b;\npub use a::A;\npub use b::*;\n"),
                ("a.rs", "use crate::B;\npub struct A;\n"),
                (
                    "b.rs",
                    "pub struct B;\n#[cfg(test)]\nmod tests { use crate::a::A; }\n",
                ),
            ],
        );
        assert!(g.cycles().is_empty(), "{:?}", g.edges());
        // a.rs's `crate::B` is followed through the glob to b.rs.
        assert!(g
            .edges()
            .iter()
            .any(|e| e.from.ends_with("a.rs") && e.to.ends_with("b.rs")));
    }

    #[test]
    fn an_item_of_the_parent_file_makes_an_edge_to_it() {
        let (dir, g) = graph(
            "parent",
            &[
                ("lib.rs", "mod m;\n"),
                ("m/mod.rs", "mod c;\npub use c::C;\npub struct P;\n"),
                ("m/c.rs", "use super::P;\npub struct C;\n"),
            ],
        );
        let c = g.cycles();
        assert_eq!(c.len(), 1, "{:?}", g.edges());
        assert_eq!(names(&dir, &c[0]), ["m/c.rs", "m/mod.rs"]);
    }

    #[test]
    fn modules_of_a_non_mod_file_live_in_its_folder() {
        let (_, g) = graph(
            "folder",
            &[
                ("lib.rs", "pub mod exec;\n"),
                ("exec.rs", "mod special;\npub fn run() { special::go(); }\n"),
                ("exec/special.rs", "pub fn go() {}\n"),
            ],
        );
        assert_eq!(g.files.len(), 3);
        assert!(g.cycles().is_empty());
    }

    #[test]
    fn the_workspace_has_no_import_cycle() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut found = Vec::new();
        for r in crate_roots(&root).unwrap() {
            let g = CrateGraph::load(&r).unwrap();
            for c in g.cycles() {
                found.push(format!("{:?}: {:?}", c.files, c.edges));
            }
        }
        assert!(found.is_empty(), "{}", found.join("\n"));
    }
}
