//! The HTTP API's bodies, free of any HTTP library so that the handlers, the fuzz targets and
//! the tools share one definition: the `POST /orders` body read into typed values
//! ([`parse_place_order_for`]), the JSON it must be ([`json`]: no member given twice), and the
//! shapes of the answers ([`OrderAccepted`], [`OrderView`], [`ProductList`]).

pub mod json;
mod place_order;
mod views;

pub use place_order::{
    parse_place_order, parse_place_order_for, FieldIssue, PlaceOrderRequest, RequestError,
    RequestedLine,
};
pub use views::{HistoryView, LineView, OrderAccepted, OrderView, ProductList, ProductView};

/// Bodies above this size are refused with `413` before they are parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// An order has at most this many lines.
pub const MAX_LINES: usize = 50;

/// A `Content-Type`'s media type without its parameters, lower-cased:
/// `"Application/JSON; charset=utf-8"` → `"application/json"`.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_media_type_loses_its_parameters_and_case() {
        assert_eq!(
            media_type("Application/JSON; charset=utf-8"),
            "application/json"
        );
        assert_eq!(media_type(" text/plain "), "text/plain");
        assert_eq!(media_type(""), "");
    }
}
