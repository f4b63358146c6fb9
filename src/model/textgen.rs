//! A sampler of Korean medical text lines, used for training until (and alongside) the
//! project's synthetic document generator: field labels, names, hospitals, drugs with doses,
//! diagnoses with KCD codes, lab rows, dates, narrative phrases, plus random KS X 1001
//! syllables and ASCII so that every character of the vocabulary is seen.

use crate::dataset::synth::content::people::SURNAMES;
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
const DRUGS: &[&str] = &[
    "아모잘탄정",
    "타이레놀정",
    "아스피린프로텍트정",
    "리피토정",
    "크레스토정",
    "노바스크정",
    "디아미크롱서방정",
    "다이아벡스정",
    "자누비아정",
    "아마릴정",
    "글루코파지엑스알서방정",
    "란스톤엘에프디티정",
    "넥시움정",
    "가스모틴정",
    "무코스타정",
    "스티렌투엑스정",
    "알마겔정",
    "오구멘틴정",
    "아목시실린캡슐",
    "세파클러캡슐",
    "클래리시드정",
    "레보프라이드정",
    "크라비트정",
    "씨프로바이정",
    "록소닌정",
    "세레브렉스캡슐",
    "애니펜정",
    "울트라셋이알서방정",
    "코대원포르테시럽",
    "코푸시럽",
    "뮤코펙트정",
    "씨잘정",
    "지르텍정",
    "알레그라정",
    "싱귤레어정",
    "소론도정",
    "메치론정",
    "덱사메타손정",
    "와파린정",
    "플라빅스정",
    "엘리퀴스정",
    "자렐토정",
    "콩코르정",
    "딜라트렌정",
    "라식스정",
    "알닥톤필름코팅정",
    "코자정",
    "디오반필름코팅정",
    "트윈스타정",
    "엑스포지정",
    "자이프렉사정",
    "리스페달정",
    "졸로푸트정",
    "렉사프로정",
    "스틸녹스정",
    "자낙스정",
    "리보트릴정",
    "뉴론틴캡슐",
    "리리카캡슐",
    "란투스솔로스타주",
    "노보래피드플렉스펜주",
    "생리식염주사액",
    "5%포도당주사액",
    "세프트리악손나트륨주",
    "반코마이신염산염주",
    "케토롤락트로메타민주",
    "페치딘염산염주사액",
    "온단세트론주",
    "판토프라졸나트륨주",
    "메트포르민염산염정",
    "아토르바스타틴칼슘정",
    "로수바스타틴칼슘정",
    "암로디핀베실산염정",
    "로사르탄칼륨정",
    "에소메프라졸마그네슘정",
    "레바미피드정",
    "아세트아미노펜정",
    "이부프로펜정",
    "세티리진염산염정",
    "몬테루카스트나트륨정",
    "프레드니솔론정",
    "트라마돌염산염",
    "글리메피리드정",
    "시타글립틴인산염",
    "엠파글리플로진정",
    "다파글리플로진정",
    "베타히스틴정",
    "레보티록신나트륨정",
    "씬지로이드정",
    "알프라졸람정",
    "졸피뎀타르타르산염정",
    "후시딘연고",
    "마데카솔케어연고",
    "베타딘액",
    "훼스탈플러스정",
    "둘코락스에스장용정",
    "마그밀정",
    "락토핏생유산균",
];
const DOSES: &[&str] = &[
    "500mg", "250mg", "100mg", "10mg", "5mg", "20mg", "40mg", "50mg", "2.5mg", "0.5mg", "1g",
    "30mg", "75mg", "625mg", "80mg", "160mg", "5/50mg", "10/20mg", "5/80mg", "40/5mg", "1000mg",
    "0.25mg", "6.25mg", "15mg", "300mg", "200mg", "100IU/mL", "10mL", "100mL", "500mL", "1T", "2T",
    "0.5T", "1C", "1포", "3g", "5㎎", "10㎎", "0.1㎎", "20㎖", "2.5㎖", "25μg", "50㎍", "1 tab",
    "2 cap",
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
const LABS: &[(&str, &str, &str)] = &[
    ("WBC", "10³/μL", "4.0-10.0"),
    ("RBC", "10⁶/μL", "4.2-5.4"),
    ("Hb", "g/dL", "12.0-16.0"),
    ("Hct", "%", "36-48"),
    ("PLT", "10³/μL", "150-400"),
    ("MCV", "fL", "80-100"),
    ("MCH", "pg", "27-33"),
    ("MCHC", "g/dL", "32-36"),
    ("AST(GOT)", "U/L", "0-40"),
    ("ALT(GPT)", "U/L", "0-40"),
    ("ALP", "IU/L", "40-129"),
    ("γ-GTP", "U/L", "8-61"),
    ("T-Bil", "mg/dL", "0.2-1.2"),
    ("Total Protein", "g/dL", "6.6-8.3"),
    ("Albumin", "g/dL", "3.5-5.2"),
    ("BUN", "mg/dL", "8-23"),
    ("Creatinine", "mg/dL", "0.7-1.2"),
    ("eGFR", "mL/min/1.73㎡", "> 60"),
    ("Na", "mmol/L", "136-145"),
    ("K", "mmol/L", "3.5-5.1"),
    ("Cl", "mmol/L", "98-107"),
    ("Ca", "mg/dL", "8.6-10.2"),
    ("Glucose", "mg/dL", "70-99"),
    ("HbA1c", "%", "4.0-6.0"),
    ("Total Cholesterol", "mg/dL", "< 200"),
    ("HDL-C", "mg/dL", "> 40"),
    ("LDL-C", "mg/dL", "< 130"),
    ("TG", "mg/dL", "< 150"),
    ("CRP", "mg/dL", "0-0.5"),
    ("ESR", "mm/hr", "0-20"),
    ("TSH", "μIU/mL", "0.27-4.2"),
    ("Free T4", "ng/dL", "0.93-1.7"),
    ("PT(INR)", "", "0.8-1.2"),
    ("aPTT", "sec", "25-35"),
    ("요산", "mg/dL", "3.4-7.0"),
    ("혈색소", "g/dL", "13.0-17.0"),
    ("백혈구", "×10³/㎕", "4.0-10.0"),
    ("혈소판", "×10³/㎕", "150-450"),
    ("공복혈당", "mg/dL", "70-100"),
    ("당화혈색소", "%", "< 5.7"),
    ("총콜레스테롤", "mg/dL", "< 200"),
    ("중성지방", "mg/dL", "< 150"),
    ("크레아티닌", "mg/dL", "0.5-1.2"),
    ("요단백", "", "음성"),
    ("요잠혈", "", "음성"),
    ("요당", "", "음성"),
    ("비중", "", "1.005-1.030"),
    ("pH", "", "5.0-8.0"),
];
const DIAGNOSES: &[(&str, &str)] = &[
    ("본태성(원발성) 고혈압", "I10"),
    ("인슐린-비의존 당뇨병", "E11.9"),
    ("제2형 당뇨병", "E11.9"),
    ("고지혈증", "E78.5"),
    ("급성 기관지염", "J20.9"),
    ("급성 비인두염[감기]", "J00"),
    ("위-식도역류병", "K21.9"),
    ("요통, 요추부", "M54.5"),
    ("감염성 위장염 및 결장염", "A09"),
    ("상세불명의 폐렴", "J18.9"),
    ("뇌경색증", "I63.9"),
    ("협심증", "I20.9"),
    ("골다공증", "M81.9"),
    ("만성 신장병", "N18.9"),
    ("아토피피부염", "L20.9"),
    ("알레르기비염", "J30.4"),
    ("편두통", "G43.9"),
    ("우울병 에피소드", "F32.9"),
    ("불면증", "G47.0"),
    ("갑상선기능저하증", "E03.9"),
    ("급성 충수염", "K35.8"),
    ("담석증", "K80.2"),
    ("대상포진", "B02.9"),
    ("급성 방광염", "N30.0"),
    ("요로감염", "N39.0"),
    ("철결핍성 빈혈", "D50.9"),
    ("천식", "J45.9"),
    ("만성 폐쇄성 폐질환", "J44.9"),
    ("심방세동", "I48.9"),
    ("무릎관절증", "M17.9"),
    ("손목의 골절", "S62.8"),
    ("발목의 염좌", "S93.4"),
    ("급성 편도염", "J03.9"),
    ("결막염", "H10.9"),
    ("중이염", "H66.9"),
    ("두드러기", "L50.9"),
    ("위염", "K29.7"),
    ("과민대장증후군", "K58.9"),
    ("경추간판장애", "M50.2"),
    ("어깨의 유착성 관절낭염", "M75.0"),
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
            "{d}" => pick(rng, DRUGS).to_string(),
            _ => format!("{:.1}", rng.random_range(0.5..30.0f32)),
        };
        s.replace_range(i..i + 3, &rep);
    }
    s
}

/// One "cell" of medical content.
fn field<R: Rng>(rng: &mut R) -> String {
    // Names and dates twice as often as other fields (since `builtin-v1` step 3,600): they
    // are critical fields with no language-model prior to lean on.
    match rng.random_range(0..18) {
        0 | 16 => name(rng),
        17 => date(rng),
        1 => hospital(rng),
        2 => format!("{} {}", pick(rng, DRUGS), pick(rng, DOSES)),
        3 => pick(rng, FREQS).to_string(),
        4 => {
            let (item, unit, range) = *LABS.choose(rng).unwrap();
            let flag = ["", "", " H", " L", " ▲", " ▼", " *"][rng.random_range(0..7)];
            format!("{item} {}{flag} {unit} {range}", number(rng))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        }
        5 => {
            let (d, code) = *DIAGNOSES.choose(rng).unwrap();
            if rng.random_bool(0.5) {
                format!("{d} ({code})")
            } else {
                format!("{code} {d}")
            }
        }
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
