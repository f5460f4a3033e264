//! The ceiling of the callback benchmark (`bench/callback.sh`): a bare axum server that reads
//! the request body and answers every POST with a fixed body, on the same runtime as the
//! product (`platform::server::runtime`: tokio's current-thread runtime where the process may
//! use one core, as in the benchmark, else the multi-threaded one). What the product reaches is reported as a
//! fraction of this, measured in the same run with the same load generator and the same
//! requests.
//!
//! `cargo run --release -p zhanggui --example bench_ceiling -- 127.0.0.1:18081`

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;

async fn answer(body: Bytes) -> impl IntoResponse {
    // Read (and drop) the body as the callback does, then answer as WeChat's "no reply".
    drop(body);
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "success",
    )
}

fn main() -> anyhow::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".to_string());
    let runtime = zhanggui::platform::server::runtime()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        let app = Router::new().fallback(answer);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
