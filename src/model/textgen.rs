//! A sampler of Korean medical text lines, used for training until (and alongside) the
//! project's synthetic document generator: field labels, names, hospitals, drugs with doses,
//! diagnoses with KCD codes, lab rows, dates, narrative phrases, plus random KS X 1001
//! syllables and ASCII so that every character of the vocabulary is seen. Drugs, lab tests
//! and diagnoses come from the document generator's content (`dataset::synth::content`), so
//! training text names what the evaluation documents name.

use crate::dataset::synth::content::{self, drugs, people::SURNAMES};
use crate::dataset::synth::ksx1001::HANGUL as KSX1001_HANGUL;
use rand::seq::IndexedRandom;
use rand::Rng;

const GIVEN: &[&str] = &[
    "민", "서", "지", "현", "준", "우", "영", "수", "진", "호", "은", "예", "하", "윤", "성", "재",
    "동", "혜", "경", "연", "정", "희", "숙", "자", "철", "훈", "석", "미", "나", "유", "원", "주",
    "상", "태", "광", "용", "승", "혁", "규", "빈", "채", "아", "린", "도", "건", "시", "소", "다",
    "율", "찬", "형", "순", "옥", "분", "덕", "춘", "길", "만", "종", "창", "병", "기", "웅", "봉",
    "혁", "근", "택", "엽", "균", "섭",
];
const CITIES: &[&str] = &[
    "서울", "부산", "대구", "인천", "광주", "대전", "울산", "수원", "성남", "고양", "청주", "전주",
    "제주", "창원", "천안", "안산", "포항", "원주", "춘천", "강릉", "분당", "일산", "강남", "목동",
    "노원",
];
const HOSPITAL_KINDS: &[&str] = &[
    "대학교병원",
    "의료원",
    "성모병원",
    "중앙병원",
    "기독병원",
    "세브란스병원",
    "내과의원",
    "가정의학과의원",
    "소아청소년과의원",
    "정형외과의원",
    "이비인후과의원",
    "피부과의원",
    "연합의원",
    "365의원",
    "보건소",
    "요양병원",
    "재활의학과의원",
    "신경과의원",
    "안과의원",
    "산부인과의원",
];
const FREQS: &[&str] = &[
    "1일 3회 식후 30분",
    "1일 2회 아침 저녁",
    "1일 1회 아침 식후",
    "1일 1회 취침 전",
    "필요시 복용",
    "매 8시간마다",
    "1일 3회",
    "1일 2회",
    "1일 1회",
    "tid pc",
    "bid",
    "qd",
    "prn",
    "hs",
    "PO",
    "IV",
    "SC",
    "IM",
    "q8h",
    "q12h",
    "1회 1정",
    "1회 2정",
    "주 1회",
    "격일",
];
const LABELS: &[&str] = &[
    "성명",
    "환자성명",
    "주민등록번호",
    "생년월일",
    "성별",
    "나이",
    "연령",
    "등록번호",
    "진료과",
    "담당의",
    "주치의",
    "병동",
    "병실",
    "입원일",
    "퇴원일",
    "입원일자",
    "퇴원일자",
    "처방일자",
    "교부번호",
    "의료기관명",
    "의료기관",
    "전화번호",
    "팩스번호",
    "주소",
    "진단명",
    "질병분류기호",
    "상병명",
    "주상병",
    "부상병",
    "발병일",
    "진단일",
    "향후 치료의견",
    "비고",
    "용도",
    "처방 의약품의 명칭",
    "1회 투약량",
    "1일 투여횟수",
    "총 투약일수",
    "용법",
    "조제시 참고사항",
    "검사항목",
    "검사명",
    "결과",
    "단위",
    "참고치",
    "참고범위",
    "판정",
    "검체",
    "채취일시",
    "접수일시",
    "보고일시",
    "주호소",
    "현병력",
    "과거력",
    "가족력",
    "사회력",
    "신체검사",
    "검사소견",
    "입원 경과",
    "퇴원 시 상태",
    "퇴원 처방",
    "추적관찰 계획",
    "활력징후",
    "혈압",
    "맥박",
    "체온",
    "호흡수",
    "산소포화도",
    "체중",
    "신장",
    "알레르기",
    "수술명",
    "처치",
    "의사 면허번호",
    "전문의 자격번호",
    "발행일",
    "진료기간",
    "요양기관기호",
    "환자 구분",
    "보험 유형",
    "건강보험",
    "의료급여",
    "서명",
    "(인)",
    "작성자",
    "확인자",
];
const SYMPTOMS: &[&str] = &[
    "발열",
    "기침",
    "가래",
    "인후통",
    "두통",
    "복통",
    "설사",
    "구토",
    "오심",
    "어지러움",
    "흉통",
    "호흡곤란",
    "요통",
    "관절통",
    "부종",
    "피로감",
    "식욕부진",
    "체중감소",
    "가슴 답답함",
    "소화불량",
    "속쓰림",
    "콧물",
    "코막힘",
    "오한",
    "근육통",
    "저림",
    "배뇨통",
    "빈뇨",
    "혈뇨",
    "발진",
    "가려움",
];
const PHRASES: &[&str] = &[
    "{n}일 전부터 시작된 {s}으로 내원함",
    "{s} 및 {s} 호소하여 외래 방문함",
    "{d} 투여 후 증상 호전되어 퇴원함",
    "특이 소견 없음",
    "외래 추적 관찰 예정",
    "상기 환자는 위 질병으로 {n}주간의 안정 가료를 요함",
    "{s} 지속되어 {n}일간 입원 치료함",
    "활력징후 안정적임",
    "검사 결과 정상 범위",
    "약물 알레르기 없음",
    "고혈압 및 당뇨 과거력 있음",
    "흡연 {n}갑년, 음주 주 {n}회",
    "퇴원 후 {n}주 뒤 외래 방문",
    "위 사실을 증명합니다",
    "상기와 같이 진단함",
    "{s} 악화 시 즉시 내원하도록 교육함",
    "식이 조절 및 운동 권유",
    "수술 후 경과 양호함",
    "항생제 {n}일간 정맥 투여함",
    "흉부 X-ray상 이상 소견 없음",
    "복부 CT상 {s} 의심 소견",
    "혈액검사상 CRP {v} mg/dL로 상승",
];

fn pick<'a, R: Rng>(rng: &mut R, xs: &'a [&'a str]) -> &'a str {
    xs.choose(rng).copied().unwrap_or("")
}

fn name<R: Rng>(rng: &mut R) -> String {
    let n = if rng.random_bool(0.85) { 2 } else { 1 };
    let mut s = pick(rng, SURNAMES).to_string();
    for _ in 0..n {
        s.push_str(pick(rng, GIVEN));
    }
    s
}

fn date<R: Rng>(rng: &mut R) -> String {
    let (y, m, d) = (
        rng.random_range(1935..2026),
        rng.random_range(1..=12),
        rng.random_range(1..=28),
    );
    match rng.random_range(0..5) {
        0 => format!("{y}-{m:02}-{d:02}"),
        1 => format!("{y}.{m:02}.{d:02}"),
        2 => format!("{y}년 {m}월 {d}일"),
        3 => format!("{y}. {m}. {d}."),
        _ => format!(
            "{y}/{m:02}/{d:02} {:02}:{:02}",
            rng.random_range(0..24),
            rng.random_range(0..60)
        ),
    }
}

fn number<R: Rng>(rng: &mut R) -> String {
    match rng.random_range(0..6) {
        0 => format!("{}", rng.random_range(0..1000)),
        1 => format!("{:.1}", rng.random_range(0.0..300.0f32)),
        2 => format!("{:.2}", rng.random_range(0.0..20.0f32)),
        3 => format!(
            "{},{:03}",
            rng.random_range(1..100),
            rng.random_range(0..1000)
        ),
        4 => format!(
            "{}/{} mmHg",
            rng.random_range(90..180),
            rng.random_range(50..110)
        ),
        _ => format!("{:.1}℃", rng.random_range(35.5..40.5f32)),
    }
}

fn random_syllables<R: Rng>(rng: &mut R) -> String {
    let all: Vec<char> = KSX1001_HANGUL.chars().collect();
    let words = rng.random_range(1..5);
    (0..words)
        .map(|_| {
            (0..rng.random_range(1..6))
                .map(|_| all[rng.random_range(0..all.len())])
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn random_ascii<R: Rng>(rng: &mut R) -> String {
    const P: &[u8] = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    let words = rng.random_range(1..5);
    (0..words)
        .map(|_| {
            (0..rng.random_range(1..9))
                .map(|_| match rng.random_range(0..10) {
                    0..=3 => (b'a' + rng.random_range(0..26)) as char,
                    4..=6 => (b'A' + rng.random_range(0..26)) as char,
                    7..=8 => (b'0' + rng.random_range(0..10)) as char,
                    _ => P[rng.random_range(0..P.len())] as char,
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn symbols<R: Rng>(rng: &mut R) -> String {
    const S: &[&str] = &[
        "℃", "μ", "㎎", "㎖", "×", "·", "±", "≤", "≥", "※", "①", "②", "③", "■", "□", "▶", "●", "○",
        "→", "~", "「", "」", "【", "】", "㉠", "Ⅰ", "Ⅱ", "°", "㎍", "㎕", "㎏", "%", "ㆍ", "…",
        "“", "”",
    ];
    let mut s = String::new();
    for _ in 0..rng.random_range(1..4) {
        s.push_str(pick(rng, S));
        if rng.random_bool(0.6) {
            s.push_str(&number(rng));
        } else {
            s.push_str(pick(rng, LABELS));
        }
        s.push(' ');
    }
    s.trim_end().to_string()
}

fn hospital<R: Rng>(rng: &mut R) -> String {
    format!("{}{}", pick(rng, CITIES), pick(rng, HOSPITAL_KINDS))
}

fn phrase<R: Rng>(rng: &mut R) -> String {
    let mut s = pick(rng, PHRASES).to_string();
    while let Some(i) = s.find('{') {
        let key = &s[i..i + 3];
        let rep = match key {
            "{n}" => rng.random_range(1..15).to_string(),
            "{s}" => pick(rng, SYMPTOMS).to_string(),
            "{d}" => drug_brand(rng).to_string(),
            _ => format!("{:.1}", rng.random_range(0.5..30.0f32)),
        };
        s.replace_range(i..i + 3, &rep);
    }
    s
}

/// A drug's brand and form, as prose names it (without strength).
fn drug_brand<R: Rng>(rng: &mut R) -> &'static str {
    content::drug_products().choose(rng).map_or("", |p| p.base)
}

/// A drug as a prescription prints it: the name alone, with its dose, or its whole row.
fn drug<R: Rng>(rng: &mut R) -> String {
    let d = content::sample_drug(rng.random());
    let line = match rng.random_range(0..3) {
        0 => d.name,
        1 => format!("{} {}", d.name, d.dose.unwrap_or_default()),
        _ => drugs::row(&d).join(" "),
    };
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A lab result row; printouts mark out-of-range values with a letter, an arrow or a star.
fn lab<R: Rng>(rng: &mut R) -> String {
    let row = content::sample_lab_row(rng.random());
    let flag = row
        .flag
        .as_deref()
        .map(|f| match (rng.random_range(0..4), f) {
            (0, _) => "*",
            (1, "H") => "▲",
            (1, _) => "▼",
            (_, f) => f,
        });
    let cells = [
        row.item.as_str(),
        &format!(
            "{}{}",
            row.value,
            flag.map_or(String::new(), |f| format!(" {f}"))
        ),
        row.unit.as_deref().unwrap_or(""),
        row.reference_range.as_deref().unwrap_or(""),
    ];
    cells
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A diagnosis with its KCD code, before or after the name.
fn diagnosis<R: Rng>(rng: &mut R) -> String {
    let Some(k) = content::diagnoses().choose(rng) else {
        return String::new();
    };
    if rng.random_bool(0.5) {
        format!("{} ({})", k.name, k.code)
    } else {
        format!("{} {}", k.code, k.name)
    }
}

/// One "cell" of medical content.
fn field<R: Rng>(rng: &mut R) -> String {
    // Names and dates twice as often as other fields (since `builtin-v1` step 3,600): they
    // are critical fields with no language-model prior to lean on.
    match rng.random_range(0..18) {
        0 | 16 => name(rng),
        17 => date(rng),
        1 => hospital(rng),
        2 => drug(rng),
        3 => pick(rng, FREQS).to_string(),
        4 => lab(rng),
        5 => diagnosis(rng),
        6 => date(rng),
        7 => number(rng),
        8 => phrase(rng),
        9 => format!(
            "{}: {}",
            pick(rng, LABELS),
            match rng.random_range(0..4) {
                0 => name(rng),
                1 => date(rng),
                2 => number(rng),
                _ => hospital(rng),
            }
        ),
        10 => format!(
            "{:06}-{}{}",
            rng.random_range(0..1_000_000),
            rng.random_range(1..5),
            if rng.random_bool(0.5) {
                "******".to_string()
            } else {
                format!("{:06}", rng.random_range(0..1_000_000))
            }
        ),
        11 => format!(
            "{:03}-{:04}-{:04}",
            [2, 31, 32, 51, 53, 62, 10][rng.random_range(0..7)],
            rng.random_range(100..10000),
            rng.random_range(0..10000)
        ),
        12 => pick(rng, LABELS).to_string(),
        13 => random_syllables(rng),
        14 => random_ascii(rng),
        _ => symbols(rng),
    }
}

/// A line of `min_chars..=max_chars` characters (approximately: cut at a character boundary).
pub fn sample_line<R: Rng>(rng: &mut R, min_chars: usize, max_chars: usize) -> String {
    let mut s = field(rng);
    while s.chars().count() < min_chars {
        let sep = if rng.random_bool(0.8) { " " } else { ", " };
        s = format!("{s}{sep}{}", field(rng));
    }
    let n = s.chars().count();
    if n > max_chars {
        let start = rng.random_range(0..=(n - max_chars));
        s = s.chars().skip(start).take(max_chars).collect();
    }
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() {
        "0".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Every drug, lab test and diagnosis textgen writes is one the evaluation documents can
    /// contain: the names come from `dataset::synth::content`, not from a list of its own.
    #[test]
    fn drugs_labs_and_diagnoses_come_from_the_document_content() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let products = content::drug_products();
        for _ in 0..500 {
            let brand = drug_brand(&mut rng);
            assert!(products.iter().any(|p| p.base == brand), "{brand}");
            let line = drug(&mut rng);
            let name = line.split(' ').next().unwrap_or_default();
            assert!(
                products.iter().any(|p| {
                    name.strip_prefix(&format!("{}{}", p.base, p.strength))
                        .is_some_and(|unit| unit.chars().all(|c| !c.is_ascii_digit()))
                }),
                "{line}"
            );
            let line = lab(&mut rng);
            assert!(
                content::lab_tests()
                    .flat_map(|t| t.names)
                    .any(|n| line.starts_with(&format!("{n} "))),
                "{line}"
            );
            let line = diagnosis(&mut rng);
            assert!(
                content::diagnoses().iter().any(|k| {
                    line == format!("{} ({})", k.name, k.code)
                        || line == format!("{} {}", k.code, k.name)
                }),
                "{line}"
            );
        }
    }

    /// No drug or KCD code is spelled out in this file: a private list would drift from the
    /// documents again.
    #[test]
    fn keeps_no_list_of_its_own() {
        let source = include_str!("textgen.rs");
        for p in content::drug_products() {
            assert!(!source.contains(p.base), "{} listed in textgen.rs", p.base);
        }
        for k in content::diagnoses() {
            assert!(!source.contains(&format!("\"{}\"", k.code)), "{}", k.code);
        }
    }
}
