//! Prints, for a profile, how many elements the profile pass visits (non-trivial) versus all.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let igs: Vec<std::path::PathBuf> = args.iter().skip(1).map(Into::into).collect();
    let defs = conformance::Definitions::load(&igs).expect("load");
    let plan = defs.plan(&args[0]).expect("plan");
    let total = plan.nodes.len();
    let active: usize = plan.nodes.iter().map(|n| n.active_children.len()).sum();
    println!(
        "{}: {total} elements, {active} active child links",
        plan.name
    );
    for n in &plan.nodes {
        if !n.active_children.is_empty() {
            let names: Vec<String> = n
                .active_children
                .iter()
                .map(|&c| {
                    let cn = plan.node(c);
                    format!(
                        "{}{}",
                        cn.name,
                        cn.slice_name
                            .as_deref()
                            .map(|s| format!(":{s}"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            println!("  {} -> {}", n.id, names.join(" "));
        }
    }
}
