//! The OpenAI chat-completions wire format as `medocr serve` reads and writes it, and the
//! decoding of a request's images into pages.

use super::batcher::Prompt;
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
    #[serde(default)]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
    /// Refused: the built-in model transcribes and cannot follow a JSON schema.
    #[serde(default)]
    pub response_format: Option<serde_json::Value>,
}

impl ChatRequest {
    /// The output token limit: the smaller of `max_tokens` and `max_completion_tokens`.
    pub fn token_limit(&self) -> Result<Option<usize>, String> {
        let limit = match (self.max_tokens, self.max_completion_tokens) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match limit {
            Some(0) => Err("max_tokens must be at least 1".into()),
            l => Ok(l.map(|n| usize::try_from(n).unwrap_or(usize::MAX))),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
    /// vLLM: every chunk carries the usage so far.
    #[serde(default)]
    pub continuous_usage_stats: bool,
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

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
    /// Input tokens whose line-crop encodings came from the prefix cache (0 with
    /// `--prefix-cache-mib 0`), always present as with vLLM's `--enable-prompt-tokens-details`.
    pub prompt_tokens_details: PromptTokensDetails,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct PromptTokensDetails {
    pub cached_tokens: usize,
}

impl Usage {
    pub fn new(prompt: Prompt, completion_tokens: usize) -> Self {
        Usage {
            prompt_tokens: prompt.tokens,
            completion_tokens,
            total_tokens: prompt.tokens + completion_tokens,
            prompt_tokens_details: PromptTokensDetails {
                cached_tokens: prompt.cached,
            },
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

/// An OpenAI-style error body: `{"error": {"message", "type", "param", "code"}}` with
/// OpenAI's types (`invalid_request_error` for the client's mistakes, `server_error` for
/// the server's state) and a short machine-readable `code`.
pub fn error_body(message: &str, status: u16, code: &str) -> String {
    let kind = if status >= 500 {
        "server_error"
    } else {
        "invalid_request_error"
    };
    serde_json::json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        .to_string()
}

/// What a request may ask of the server before any image is decoded.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    /// Largest image, in pixels.
    pub max_pixels: u64,
    /// Most images in one request.
    pub max_images: usize,
    /// Most pixels of all images of one request together.
    pub max_request_pixels: u64,
}

/// Why a request's images are refused.
#[derive(Debug, PartialEq)]
pub enum ImageError {
    /// Not a usable image (bad URL, bad base64, unknown format): 400.
    Invalid(String),
    /// Over a limit of [`ImageLimits`]: 413.
    TooLarge(String),
}

/// One image of a request, its header read but its pixels not decoded yet.
pub struct EncodedImage {
    bytes: Vec<u8>,
    format: Option<image::ImageFormat>,
    pub width: u32,
    pub height: u32,
}

impl EncodedImage {
    pub fn pixels(&self) -> u64 {
        self.width as u64 * self.height as u64
    }
}

/// The images of the request's user messages, in order (the pages of one document), with
/// their sizes read from their headers and checked against `limits` before anything big
/// is allocated. An empty list is a text-only request.
pub fn inspect(
    request: &ChatRequest,
    limits: &ImageLimits,
) -> Result<Vec<EncodedImage>, ImageError> {
    let urls = request
        .messages
        .iter()
        .filter(|m| m.role == "user")
        .filter_map(|m| match &m.content {
            Content::Parts(parts) => Some(parts),
            Content::Text(_) => None,
        })
        .flatten()
        .filter_map(|p| match p {
            Part::ImageUrl { image_url } => Some(image_url.url.as_str()),
            _ => None,
        });
    let mut images = Vec::new();
    let mut total = 0u64;
    for (i, url) in urls.enumerate() {
        if i >= limits.max_images {
            return Err(ImageError::TooLarge(format!(
                "more than {} images in one request (--max-images)",
                limits.max_images
            )));
        }
        let image =
            read_data_url(url).map_err(|e| ImageError::Invalid(format!("image {}: {e}", i + 1)))?;
        if image.pixels() > limits.max_pixels {
            return Err(ImageError::TooLarge(format!(
                "image {}: {}×{} pixels is over the limit of {} per image (--max-pixels)",
                i + 1,
                image.width,
                image.height,
                limits.max_pixels
            )));
        }
        total += image.pixels();
        if total > limits.max_request_pixels {
            return Err(ImageError::TooLarge(format!(
                "the images up to image {} hold {total} pixels, over the limit of {} per request (--max-request-pixels)",
                i + 1,
                limits.max_request_pixels
            )));
        }
        images.push(image);
    }
    Ok(images)
}

/// Decodes inspected images into pages. The DPI of each: the request's `dpi`, else the
/// PNG's `pHYs`, else `default_dpi`.
pub fn decode(
    images: Vec<EncodedImage>,
    request_dpi: Option<f32>,
    default_dpi: f32,
) -> Result<Vec<Page>, String> {
    let mut pages = Vec::with_capacity(images.len());
    for (index, e) in images.into_iter().enumerate() {
        let png_dpi = if e.format == Some(image::ImageFormat::Png) {
            png_dpi(&e.bytes)
        } else {
            None
        };
        let dpi = request_dpi.or(png_dpi).unwrap_or(default_dpi);
        crate::render::Dpi::new(dpi).map_err(|e| format!("dpi {dpi}: {e}"))?;
        // `into_luma8` keeps a grayscale image as decoded, without a second copy.
        let image = image::load_from_memory(&e.bytes)
            .map_err(|err| format!("image {}: {err}", index + 1))?
            .into_luma8();
        pages.push(Page { image, dpi, index });
    }
    Ok(pages)
}

/// A `data:image/...;base64,` URL's bytes and image header.
fn read_data_url(url: &str) -> Result<EncodedImage, String> {
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
    let (width, height) = reader.into_dimensions().map_err(|e| e.to_string())?;
    Ok(EncodedImage {
        bytes,
        format,
        width,
        height,
    })
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
        let limits = ImageLimits {
            max_pixels: 1 << 20,
            max_images: 2,
            max_request_pixels: 600,
        };
        let images = inspect(&r, &limits).unwrap();
        assert_eq!((images[0].width, images[0].height), (30, 10));
        let pages = decode(images, None, 300.0).unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[1].index, 1);
        assert_eq!(pages[0].dpi, 150.0);
        assert_eq!(pages[0].image, page.image);
        let too_large = |limits: ImageLimits| match inspect(&r, &limits) {
            Err(ImageError::TooLarge(m)) => m,
            other => panic!("{:?}", other.map(|v| v.len())),
        };
        assert!(too_large(ImageLimits {
            max_pixels: 100,
            ..limits
        })
        .contains("per image"));
        assert!(too_large(ImageLimits {
            max_images: 1,
            ..limits
        })
        .contains("more than 1 images"));
        assert!(too_large(ImageLimits {
            max_request_pixels: 599,
            ..limits
        })
        .contains("per request"));

        let text_only = request(serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": "hello"}]
        }));
        assert!(inspect(&text_only, &limits).unwrap().is_empty());
        let remote = request(serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]
        }));
        assert!(
            matches!(inspect(&remote, &limits), Err(ImageError::Invalid(m)) if m.contains("data: URLs"))
        );
        let limited = request(
            serde_json::json!({"model": "m", "messages": [], "max_tokens": 9, "max_completion_tokens": 5}),
        );
        assert_eq!(limited.token_limit(), Ok(Some(5)));
        let zero = request(serde_json::json!({"model": "m", "messages": [], "max_tokens": 0}));
        assert!(zero.token_limit().is_err());
    }
}
