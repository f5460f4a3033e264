//! The in-memory registry keeps every promise of the `Registry` trait (the same conformance
//! the product's `sandbox_docs` registry passes on both databases: tests/stores.rs there).

mod common;

use std::sync::Arc;

use sandbox::MemoryRegistry;
use sandbox::registry::conformance;

#[tokio::test]
async fn the_memory_registry_conforms() {
    let registry = Arc::new(MemoryRegistry::new());
    let app = common::app("wxconformance0001", "service", true);
    registry.add_app(app.clone());
    conformance::run(registry, &app).await;
}
