//! Which content type each served file is sent with, where the guess [`ServeDir`] makes (from
//! `mime_guess`) names no charset or is not the type the page needs, and which types the
//! compression layer may gzip on the fly: text, scripts, JSON, WebAssembly and weights, but not
//! the `.gz` shards, which go out byte for byte as `application/gzip` because the page
//! decompresses them itself.
//!
//! [`ServeDir`]: tower_http::services::ServeDir

/// The content type for a file extension, where the guess of `mime_guess` is not the one the
/// page needs (or names no charset).
pub(super) fn mime_for(ext: &str) -> Option<&'static str> {
    Some(match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        "safetensors" | "bin" => "application/octet-stream",
        "gz" => "application/gzip",
        _ => return None,
    })
}

/// Content types worth compressing on the fly. `application/gzip` and images are not.
pub(super) fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html"
            | "text/javascript"
            | "application/javascript"
            | "text/css"
            | "text/plain"
            | "application/json"
            | "application/manifest+json"
            | "application/wasm"
            | "application/octet-stream"
            | "image/svg+xml"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        assert_eq!(mime_for("gz"), Some("application/gzip"));
        assert!(!compressible("application/gzip"));
        assert!(compressible("text/html; charset=utf-8"));
        assert!(compressible("application/wasm"));
    }
}
