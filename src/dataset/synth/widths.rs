//! Glyph advance widths of the font families, for the layout.
//!
//! The layout measures text with these tables instead of the font files, so that
//! `document()` needs no disk access and lays a document out identically everywhere.
//! Each value is the widest advance (in 1/1000 em) of that char over the family's regular
//! and bold faces, so a run measured here is never narrower on paper; the fonts test
//! checks the tables against the installed files (regenerate with the ignored
//! `print_width_table` test if a font package changes).

use super::fonts::FontFamily;

/// Spaces are set at least this wide (ems), in the layout and in the PDF: fonts with
/// hairline spaces (0.22 em) make words run together for text extractors and OCR alike.
pub const MIN_SPACE_EM: f32 = 0.3;

/// Advance widths of one face family, in 1/1000 em.
#[derive(Debug)]
pub struct Widths {
    /// Every KS X 1001 syllable (Korean fonts set Hangul on a fixed width).
    pub hangul: u16,
    /// `' '..='~'`.
    pub ascii: [u16; 95],
    /// The chars of `ksx1001::SYMBOLS`, in order.
    pub symbols: [u16; 6],
}

impl Widths {
    /// Advance of `c` in ems.
    pub fn em(&self, c: char) -> f32 {
        let units = match c {
            ' ' => self.ascii[0].max((MIN_SPACE_EM * 1000.0) as u16),
            ' '..='~' => self.ascii[c as usize - 0x20],
            '가'..='힣' => self.hangul,
            _ => super::ksx1001::SYMBOLS
                .chars()
                .position(|s| s == c)
                .map_or(1000, |i| self.symbols[i]),
        };
        f32::from(units) / 1000.0
    }

    /// The table for a family's regular and bold faces.
    pub fn of(family: FontFamily) -> &'static Widths {
        match family {
            FontFamily::NanumGothic => &NANUM_GOTHIC,
            FontFamily::NanumMyeongjo => &NANUM_MYEONGJO,
            FontFamily::NanumBarunGothic => &NANUM_BARUN_GOTHIC,
            FontFamily::NanumSquare => &NANUM_SQUARE,
            FontFamily::UnDotum => &UN_DOTUM,
            FontFamily::UnBatang => &UN_BATANG,
            FontFamily::BaekmukGulim => &BAEKMUK_GULIM,
            FontFamily::BaekmukBatang => &BAEKMUK_BATANG,
        }
    }
}

/// NanumGothic.
pub const NANUM_GOTHIC: Widths = Widths {
    hangul: 940,
    ascii: [
        280, 424, 430, 606, 606, 1090, 727, 303, 363, 363, 606, 654, 303, 363, 303, 375, 606, 606,
        606, 606, 606, 606, 606, 606, 606, 606, 303, 303, 547, 654, 547, 545, 872, 727, 606, 672,
        727, 576, 503, 797, 727, 242, 363, 641, 484, 969, 727, 787, 577, 787, 622, 545, 545, 727,
        666, 1029, 666, 666, 545, 363, 966, 363, 654, 545, 242, 545, 606, 484, 606, 545, 363, 606,
        606, 242, 269, 520, 242, 908, 606, 606, 606, 606, 363, 424, 363, 606, 484, 848, 510, 464,
        484, 303, 242, 303, 654,
    ],
    symbols: [787, 453, 940, 592, 290, 428],
};

/// NanumMyeongjo.
pub const NANUM_MYEONGJO: Widths = Widths {
    hangul: 951,
    ascii: [
        300, 371, 321, 618, 618, 880, 859, 176, 366, 366, 639, 639, 274, 639, 274, 434, 538, 538,
        538, 538, 538, 538, 538, 538, 538, 538, 411, 411, 548, 639, 548, 525, 854, 727, 613, 728,
        788, 613, 555, 788, 846, 320, 378, 728, 613, 1020, 845, 845, 554, 845, 728, 508, 669, 728,
        729, 1020, 788, 728, 728, 366, 1000, 366, 502, 502, 217, 503, 562, 464, 562, 445, 329, 503,
        562, 270, 270, 562, 270, 844, 562, 562, 562, 562, 386, 386, 329, 562, 503, 795, 562, 503,
        445, 366, 502, 366, 720,
    ],
    symbols: [951, 951, 951, 951, 290, 951],
};

/// NanumBarunGothic.
pub const NANUM_BARUN_GOTHIC: Widths = Widths {
    hangul: 892,
    ascii: [
        224, 446, 297, 583, 583, 892, 892, 297, 446, 446, 446, 583, 297, 583, 297, 446, 583, 583,
        583, 583, 583, 583, 583, 583, 583, 583, 297, 297, 446, 583, 446, 669, 1052, 644, 627, 639,
        721, 596, 554, 710, 718, 247, 410, 626, 529, 884, 710, 752, 586, 752, 610, 592, 621, 696,
        635, 961, 617, 611, 594, 446, 961, 446, 434, 446, 297, 560, 588, 490, 588, 559, 340, 588,
        592, 244, 301, 530, 244, 892, 592, 577, 588, 588, 383, 475, 357, 592, 530, 788, 528, 530,
        473, 446, 446, 446, 669,
    ],
    symbols: [892, 645, 892, 892, 446, 446],
};

/// NanumSquare.
pub const NANUM_SQUARE: Widths = Widths {
    hangul: 910,
    ascii: [
        250, 300, 387, 614, 628, 893, 677, 230, 337, 337, 469, 600, 294, 420, 294, 437, 610, 610,
        610, 610, 610, 610, 610, 610, 610, 610, 354, 354, 610, 610, 610, 542, 993, 673, 635, 644,
        688, 598, 568, 671, 697, 263, 472, 655, 546, 850, 701, 706, 617, 698, 645, 616, 571, 684,
        673, 975, 655, 625, 613, 389, 959, 389, 524, 500, 610, 552, 596, 509, 596, 562, 386, 596,
        599, 259, 276, 561, 253, 899, 599, 588, 596, 596, 417, 498, 389, 595, 522, 765, 525, 526,
        493, 449, 294, 449, 600,
    ],
    symbols: [833, 603, 910, 610, 421, 400],
};

/// UnDotum.
pub const UN_DOTUM: Widths = Widths {
    hangul: 1000,
    ascii: [
        300, 320, 460, 600, 600, 700, 720, 300, 380, 380, 600, 600, 300, 240, 300, 600, 600, 600,
        600, 600, 600, 600, 600, 600, 600, 600, 300, 300, 600, 600, 600, 540, 800, 640, 660, 660,
        660, 580, 540, 660, 660, 300, 400, 640, 500, 880, 660, 660, 620, 660, 660, 620, 540, 660,
        600, 900, 640, 600, 660, 380, 600, 380, 600, 500, 380, 540, 540, 540, 540, 540, 300, 560,
        540, 260, 260, 560, 260, 820, 540, 540, 540, 540, 340, 520, 380, 540, 480, 740, 540, 480,
        420, 380, 300, 380, 600,
    ],
    symbols: [922, 583, 1000, 600, 260, 360],
};

/// UnBatang.
pub const UN_BATANG: Widths = Widths {
    hangul: 1000,
    ascii: [
        225, 273, 470, 550, 550, 870, 735, 278, 360, 360, 431, 590, 275, 392, 275, 460, 550, 550,
        550, 550, 550, 550, 550, 550, 550, 550, 275, 275, 590, 590, 590, 426, 818, 638, 673, 686,
        778, 621, 588, 730, 804, 374, 373, 690, 580, 928, 752, 766, 635, 766, 675, 575, 622, 786,
        638, 936, 634, 602, 612, 340, 460, 340, 590, 500, 400, 542, 597, 496, 602, 516, 338, 534,
        623, 307, 303, 564, 299, 941, 631, 581, 609, 595, 421, 445, 357, 621, 521, 774, 508, 524,
        480, 345, 246, 345, 590,
    ],
    symbols: [1000, 660, 1000, 590, 400, 392],
};

/// BaekmukGulim.
pub const BAEKMUK_GULIM: Widths = Widths {
    hangul: 1000,
    ascii: [
        485, 329, 479, 727, 681, 839, 574, 356, 425, 425, 688, 844, 370, 847, 268, 423, 594, 594,
        594, 594, 594, 594, 594, 594, 594, 594, 297, 297, 799, 843, 799, 718, 831, 750, 688, 699,
        688, 628, 626, 717, 641, 238, 596, 641, 650, 815, 639, 735, 706, 739, 686, 675, 688, 632,
        675, 911, 699, 688, 641, 491, 885, 491, 400, 824, 524, 581, 576, 584, 566, 582, 484, 568,
        508, 233, 346, 521, 206, 730, 506, 592, 571, 571, 479, 527, 490, 525, 596, 823, 605, 588,
        562, 494, 346, 497, 678,
    ],
    symbols: [1000, 1000, 1000, 1000, 1000, 1000],
};

/// BaekmukBatang.
pub const BAEKMUK_BATANG: Widths = Widths {
    hangul: 1000,
    ascii: [
        485, 316, 322, 541, 463, 761, 758, 295, 427, 427, 513, 654, 249, 396, 247, 332, 510, 510,
        510, 510, 510, 510, 510, 510, 510, 510, 277, 305, 632, 654, 632, 438, 743, 741, 626, 655,
        719, 635, 582, 727, 733, 297, 410, 739, 636, 891, 745, 704, 576, 717, 692, 497, 626, 741,
        731, 977, 744, 731, 638, 382, 326, 382, 472, 550, 459, 455, 515, 437, 514, 449, 411, 484,
        528, 257, 314, 548, 258, 779, 519, 491, 515, 514, 380, 347, 316, 520, 508, 723, 512, 526,
        441, 421, 282, 421, 512,
    ],
    symbols: [1000, 1000, 1000, 1000, 1000, 1000],
};

/// The handwriting face (NanumPen): its syllables vary in width; this is the widest.
pub const HAND: Widths = Widths {
    hangul: 1040,
    ascii: [
        280, 274, 260, 630, 420, 620, 449, 247, 310, 280, 406, 430, 235, 370, 199, 316, 358, 190,
        390, 300, 464, 383, 295, 340, 324, 360, 303, 303, 450, 400, 450, 350, 490, 460, 415, 344,
        362, 410, 390, 499, 452, 210, 300, 444, 438, 610, 461, 439, 406, 464, 448, 399, 493, 433,
        415, 646, 459, 424, 524, 340, 609, 350, 370, 480, 242, 359, 337, 362, 357, 351, 371, 339,
        413, 242, 286, 406, 209, 621, 424, 404, 382, 404, 359, 339, 408, 410, 404, 568, 382, 406,
        466, 360, 242, 360, 550,
    ],
    symbols: [496, 453, 940, 375, 290, 411],
};
