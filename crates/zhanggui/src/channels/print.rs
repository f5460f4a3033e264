//! Printable channel codes: the QR code as a PNG at print resolution, and a poster or table
//! card as SVG with the code, the merchant's words and the account's name. Drawn here from
//! the URL WeChat put in the code, so a download needs no call to WeChat. Pure: no I/O.

use std::fmt::Write as _;

/// White border around the code, in modules, as the QR standard asks.
const QUIET_ZONE: usize = 4;
/// The PNG's side in pixels: 10 cm at 300 dpi is about 1,181 px.
pub const PNG_SIDE: usize = 1200;
/// 300 dots per inch, in dots per metre (PNG's unit).
const DOTS_PER_METRE: u32 = 11_811;

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("cannot encode the QR code: {0}")]
    Qr(String),
    #[error("cannot write the PNG: {0}")]
    Png(String),
}

/// The code's modules: `dark[y * width + x]`.
struct Modules {
    width: usize,
    dark: Vec<bool>,
}

fn modules(text: &str) -> Result<Modules, PrintError> {
    let code = ::qrcode::QrCode::with_error_correction_level(text.as_bytes(), ::qrcode::EcLevel::M)
        .map_err(|e| PrintError::Qr(e.to_string()))?;
    Ok(Modules {
        width: code.width(),
        dark: code
            .to_colors()
            .into_iter()
            .map(|c| c == ::qrcode::Color::Dark)
            .collect(),
    })
}

/// A greyscale PNG of the QR code holding `text`, about [`PNG_SIDE`] pixels square (a whole
/// number of pixels per module, so edges stay sharp), marked as 300 dpi.
pub fn qr_png(text: &str) -> Result<Vec<u8>, PrintError> {
    let m = modules(text)?;
    let side_modules = m.width + 2 * QUIET_ZONE;
    let scale = (PNG_SIDE / side_modules).max(1);
    let side = side_modules * scale;
    let mut pixels = vec![255u8; side * side];
    for y in 0..m.width {
        for x in 0..m.width {
            if !m.dark[y * m.width + x] {
                continue;
            }
            for py in 0..scale {
                let row = (y + QUIET_ZONE) * scale + py;
                let start = row * side + (x + QUIET_ZONE) * scale;
                pixels[start..start + scale].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_pixel_dims(Some(png::PixelDimensions {
        xppu: DOTS_PER_METRE,
        yppu: DOTS_PER_METRE,
        unit: png::Unit::Meter,
    }));
    let mut writer = encoder
        .write_header()
        .map_err(|e| PrintError::Png(e.to_string()))?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| PrintError::Png(e.to_string()))?;
    writer
        .finish()
        .map_err(|e| PrintError::Png(e.to_string()))?;
    Ok(out)
}

/// The code as one SVG path of unit squares, placed at (`x`, `y`) with side `size`.
fn qr_group(m: &Modules, x: f64, y: f64, size: f64) -> String {
    let side_modules = (m.width + 2 * QUIET_ZONE) as f64;
    let unit = size / side_modules;
    let mut d = String::with_capacity(m.width * m.width * 8);
    for row in 0..m.width {
        for col in 0..m.width {
            if m.dark[row * m.width + col] {
                let _ = write!(d, "M{} {}h1v1h-1z", col + QUIET_ZONE, row + QUIET_ZONE);
            }
        }
    }
    format!(
        "<g transform=\"translate({x:.2} {y:.2}) scale({unit:.5})\">\
         <rect width=\"{side_modules}\" height=\"{side_modules}\" fill=\"#fff\"/>\
         <path d=\"{d}\" fill=\"#000\" shape-rendering=\"crispEdges\"/></g>"
    )
}

/// Escapes text for SVG content and attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Breaks text into lines at most `width` wide, counting a CJK (wide) character as 2 and
/// others as 1, keeping the merchant's own line breaks; at most `max_lines` lines.
pub fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines = vec![];
    for para in text.lines() {
        let mut line = String::new();
        let mut used = 0;
        for c in para.trim().chars() {
            let w = if c.is_ascii() { 1 } else { 2 };
            if used + w > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += w;
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines.truncate(max_lines);
    lines
}

/// The two printable layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A4 portrait (210 × 297 mm), for walls and windows.
    Poster,
    /// 100 × 140 mm, to stand on a table or the counter.
    TableCard,
}

impl Layout {
    pub fn parse(s: &str) -> Option<Layout> {
        match s {
            "poster" => Some(Layout::Poster),
            "table_card" => Some(Layout::TableCard),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Poster => "poster",
            Layout::TableCard => "table_card",
        }
    }
}

/// What a printed sheet says.
pub struct Sheet<'a> {
    pub account_name: &'a str,
    pub merchant_name: &'a str,
    /// The merchant's words for this code (may be empty).
    pub poster_text: &'a str,
    /// "微信扫一扫，关注公众号" in the page's language.
    pub scan_hint: &'a str,
    /// The channel's name, printed small at the foot so the printed sheets can be told apart.
    pub channel_name: &'a str,
    pub qr_url: &'a str,
}

const FONT: &str =
    "'PingFang SC','Microsoft YaHei','Noto Sans CJK SC','Source Han Sans SC',sans-serif";

/// The sheet as an SVG document in millimetres.
pub fn sheet_svg(layout: Layout, sheet: &Sheet<'_>) -> Result<String, PrintError> {
    let m = modules(sheet.qr_url)?;
    let (w, h, qr, qr_y, title_size, text_size, wrap_width) = match layout {
        Layout::Poster => (210.0, 297.0, 130.0, 88.0, 13.0, 9.0, 36),
        Layout::TableCard => (100.0, 140.0, 64.0, 40.0, 7.0, 4.6, 34),
    };
    let mut svg = String::with_capacity(64 * 1024);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}mm\" height=\"{h}mm\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"{FONT}\">"
    );
    let _ = write!(svg, "<title>{}</title>", esc(sheet.channel_name));
    let _ = write!(svg, "<rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>");
    // A band of WeChat green at the top with the account's name.
    let band = qr_y - 14.0 * (h / 297.0_f64).max(0.5);
    let _ = write!(
        svg,
        "<rect width=\"{w}\" height=\"{band:.2}\" fill=\"#07C160\"/>\
         <text x=\"{:.2}\" y=\"{:.2}\" font-size=\"{title_size}\" font-weight=\"700\" \
         fill=\"#fff\" text-anchor=\"middle\">{}</text>",
        w / 2.0,
        band * 0.55,
        esc(sheet.account_name)
    );
    if !sheet.merchant_name.is_empty() && sheet.merchant_name != sheet.account_name {
        let _ = write!(
            svg,
            "<text x=\"{:.2}\" y=\"{:.2}\" font-size=\"{:.2}\" fill=\"#e8fff1\" \
             text-anchor=\"middle\">{}</text>",
            w / 2.0,
            band * 0.55 + text_size * 1.3,
            text_size * 0.8,
            esc(sheet.merchant_name)
        );
    }
    let qr_x = (w - qr) / 2.0;
    let _ = write!(
        svg,
        "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" rx=\"3\" fill=\"#fff\" \
         stroke=\"#d9d9d9\" stroke-width=\"0.4\"/>",
        qr_x - 3.0,
        qr_y - 3.0,
        qr + 6.0,
        qr + 6.0
    );
    svg.push_str(&qr_group(&m, qr_x, qr_y, qr));
    let mut y = qr_y + qr + text_size * 1.9;
    let _ = write!(
        svg,
        "<text x=\"{:.2}\" y=\"{y:.2}\" font-size=\"{text_size}\" font-weight=\"700\" \
         fill=\"#111\" text-anchor=\"middle\">{}</text>",
        w / 2.0,
        esc(sheet.scan_hint)
    );
    y += text_size * 0.8;
    for line in wrap(sheet.poster_text, wrap_width, 4) {
        y += text_size * 1.45;
        let _ = write!(
            svg,
            "<text x=\"{:.2}\" y=\"{y:.2}\" font-size=\"{:.2}\" fill=\"#333\" \
             text-anchor=\"middle\">{}</text>",
            w / 2.0,
            text_size * 0.9,
            esc(&line)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.2}\" y=\"{:.2}\" font-size=\"{:.2}\" fill=\"#999\" \
         text-anchor=\"middle\">{}</text></svg>",
        w / 2.0,
        h - text_size * 0.8,
        text_size * 0.5,
        esc(sheet.channel_name)
    );
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_is_print_sized_and_sharp() {
        let png = qr_png("http://weixin.qq.com/q/02abcdefghijklmnopqrst").expect("png");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().expect("header");
        let info = reader.info();
        assert!(
            info.width >= 1000 && info.width <= PNG_SIDE as u32,
            "{}",
            info.width
        );
        assert_eq!(info.width, info.height);
        assert_eq!(
            info.pixel_dims.map(|d| d.xppu),
            Some(DOTS_PER_METRE),
            "300 dpi"
        );
    }

    #[test]
    fn sheets_hold_the_code_and_escaped_text() {
        let sheet = Sheet {
            account_name: "掌柜咖啡服务号",
            merchant_name: "掌柜咖啡",
            poster_text: "扫码关注 <第二杯半价>\n每天 8:00 开门",
            scan_hint: "微信扫一扫，关注公众号",
            channel_name: "门店海报",
            qr_url: "http://weixin.qq.com/q/02abc",
        };
        for layout in [Layout::Poster, Layout::TableCard] {
            let svg = sheet_svg(layout, &sheet).expect("svg");
            assert!(svg.starts_with("<svg"));
            assert!(svg.contains("掌柜咖啡服务号"));
            assert!(svg.contains("&lt;第二杯半价&gt;"));
            assert!(svg.contains("每天 8:00 开门"));
            assert!(svg.contains("<path d=\"M"));
        }
    }

    #[test]
    fn lines_wrap_by_display_width() {
        assert_eq!(wrap("一二三四五", 4, 9), vec!["一二", "三四", "五"]);
        assert_eq!(wrap("ab cd\nef", 10, 9), vec!["ab cd", "ef"]);
        assert_eq!(wrap("一二三四五", 2, 2).len(), 2);
    }
}
