//! The page, its style and its script, built into the binary: `orderflow` needs no file at
//! run time. No build step: plain HTML, CSS and a JavaScript module.

pub const INDEX_HTML: &str = include_str!("../../console/index.html");
pub const CONSOLE_CSS: &str = include_str!("../../console/console.css");
pub const CONSOLE_JS: &str = include_str!("../../console/console.js");

/// Where the page takes its session token from (`<meta name="console-token">`).
pub const TOKEN_PLACEHOLDER: &str = "{{CONSOLE_TOKEN}}";

/// The page with this console's session token in it.
pub fn index(token: &str) -> String {
    INDEX_HTML.replace(TOKEN_PLACEHOLDER, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_the_session_token_and_loads_its_own_script_and_style() {
        let page = index("abc123");
        assert!(page.contains(r#"<meta name="console-token" content="abc123">"#));
        assert!(!page.contains(TOKEN_PLACEHOLDER));
        assert!(page.contains(r#"src="/console.js""#));
        assert!(page.contains(r#"href="/console.css""#));
    }
}
