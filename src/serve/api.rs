//! The OpenAI chat-completions wire format as `medocr serve` reads and writes it, and the
//! decoding of a request's images into pages.

use crate::render::Page;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::io::Cursor;

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// medocr extension: the DPI of every image, when the PNG does not carry it.
    #[serde(default)]
    pub dpi: Option<f32>,
}

#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Content,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

impl Default for Content {
    fn default() -> Self {
        Content::Text(String::new())
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    Text {
        #[allow(dead_code)]
        text: String,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
pub struct ImageUrl {
    pub url: String,
}

#[derive(Debug, Serialize)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
}

impl Usage {
    pub fn new(prompt_tokens: usize, completion_tokens: usize) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    }
}

/// One `chat.completion.chunk`.
#[derive(Debug, Serialize)]
pub struct ChunkOut<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: i64,
    pub model: &'a str,
    pub choices: Vec<ChunkChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Debug, Serialize)]
pub struct ChunkChoice<'a> {
    pub index: u32,
    pub delta: Delta<'a>,
    pub finish_reason: Option<&'static str>,
}

#[derive(Debug, Default, Serialize)]
pub struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
}

/// A whole (non-streaming) `chat.completion`.
#[derive(Debug, Serialize)]
pub struct Completion<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: i64,
    pub model: &'a str,
    pub choices: [CompletionChoice<'a>; 1],
    pub usage: Usage,
}

#[derive(Debug, Serialize)]
pub struct CompletionChoice<'a> {
    pub index: u32,
    pub message: AssistantMessage<'a>,
    pub finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
pub struct AssistantMessage<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

/// An OpenAI-style error body.
pub fn error_body(message: &str, kind: &str, code: u16) -> String {
    serde_json::json!({"error": {"message": message, "type": kind, "code": code}}).to_string()
}

/// The images of the request's user messages, in order, as the pages of one document.
/// The DPI of each: the request's `dpi`, else the PNG's `pHYs`, else `default_dpi`.
pub fn pages(
    request: &ChatRequest,
    default_dpi: f32,
    max_pixels: u64,
) -> Result<Vec<Page>, String> {
    let mut pages = Vec::new();
    for message in request.messages.iter().filter(|m| m.role == "user") {
        let Content::Parts(parts) = &message.content else {
            continue;
        };
        for part in parts {
            if let Part::ImageUrl { image_url } = part {
                let (image, png_dpi) = decode_data_url(&image_url.url, max_pixels)
                    .map_err(|e| format!("image {}: {e}", pages.len() + 1))?;
                let dpi = request.dpi.or(png_dpi).unwrap_or(default_dpi);
                if !(dpi.is_finite() && dpi > 0.0 && dpi <= 2400.0) {
                    return Err(format!("dpi {dpi}: expected a positive number up to 2400"));
                }
                pages.push(Page {
                    image,
                    dpi,
                    index: pages.len(),
                });
            }
        }
    }
    if pages.is_empty() {
        return Err("no image in the user messages: send the page as an image_url content part (a data:image/png;base64 URL)".into());
    }
    Ok(pages)
}

/// Decodes a `data:image/...;base64,` URL into a grayscale image and the DPI its PNG
/// `pHYs` chunk records, if any. The pixel count is checked before decoding.
fn decode_data_url(url: &str, max_pixels: u64) -> Result<(image::GrayImage, Option<f32>), String> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Err("only data: URLs are accepted (this server fetches nothing)".into());
    };
    let (meta, data) = rest
        .split_once(',')
        .ok_or("a data URL needs a ',' before its payload")?;
    if !meta.ends_with(";base64") {
        return Err("the data URL must be base64 (data:image/png;base64,...)".into());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("bad base64: {e}"))?;
    let reader = image::ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let format = reader.format();
    let (w, h) = reader.into_dimensions().map_err(|e| e.to_string())?;
    if w as u64 * h as u64 > max_pixels {
        return Err(format!(
            "{w}×{h} pixels is over the limit of {max_pixels} (--max-pixels)"
        ));
    }
    let image = image::load_from_memory(&bytes)
        .map_err(|e| e.to_string())?
        .to_luma8();
    let dpi = if format == Some(image::ImageFormat::Png) {
        png_dpi(&bytes)
    } else {
        None
    };
    Ok((image, dpi))
}

/// The DPI in a PNG's `pHYs` chunk, rounded to 0.1 (pixels per metre are whole numbers,
/// so 150 DPI travels as 5906 px/m = 150.01 DPI).
fn png_dpi(bytes: &[u8]) -> Option<f32> {
    let reader = png::Decoder::new(Cursor::new(bytes)).read_info().ok()?;
    let dims = reader.info().pixel_dims?;
    if dims.unit != png::Unit::Meter || dims.xppu == 0 {
        return None;
    }
    Some(((dims.xppu as f64 * 0.0254 * 10.0).round() / 10.0) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> ChatRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn images_become_pages_with_their_dpi() {
        let page = Page {
            image: image::GrayImage::from_fn(30, 10, |x, _| image::Luma([(x * 8) as u8])),
            dpi: 150.0,
            index: 0,
        };
        let png = crate::engine::openai::encode_png(&page);
        let url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
        let r = request(serde_json::json!({
            "model": "m",
            "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": url}},
                {"type": "text", "text": "read"},
                {"type": "image_url", "image_url": {"url": url}}]}]
        }));
        let pages = pages(&r, 300.0, 1 << 20).unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[1].index, 1);
        assert_eq!(pages[0].dpi, 150.0);
        assert_eq!(pages[0].image, page.image);
        assert!(super::pages(&r, 300.0, 100)
            .unwrap_err()
            .contains("over the limit"));

        let text_only = request(serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": "hello"}]
        }));
        assert!(super::pages(&text_only, 300.0, 1 << 20).is_err());
        let remote = request(serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]
        }));
        assert!(super::pages(&remote, 300.0, 1 << 20)
            .unwrap_err()
            .contains("data: URLs"));
    }
}
