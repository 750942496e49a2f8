"""The site's words: Bahasa Indonesia (the default, for the citizens of Jawa Tengah) and English."""

from __future__ import annotations

from typing import Literal

Lang = Literal["id", "en"]

LABELS: dict[str, dict[str, str]] = {
    "id": {
        "site_title": "Transparansi Layanan Publik Jawa Tengah",
        "nav_overview": "Ringkasan provinsi",
        "nav_regencies": "Kabupaten/kota",
        "nav_checkpoint": "Verifikasi catatan",
        "overview_intro": ("Berapa permohonan layanan publik yang masuk di setiap kabupaten/kota, berapa yang selesai "
                           "sesuai standar waktu pelayanan, berapa kali warga diminta biaya di atas tarif resmi, "
                           "dan berapa pengaduan yang ditangani tepat waktu. Angka dari Simpul, bus data "
                           "Pemerintah Provinsi Jawa Tengah."),
        "regency_intro": "Per layanan dan per bulan (bulan pengajuan permohonan, bulan pengaduan dibuat).",
        "no_data": "Belum ada data untuk kabupaten/kota ini.",
        "table_regencies": "Per kabupaten/kota (semua layanan dan bulan)",
        "table_province_services": "Provinsi per layanan dan bulan",
        "table_regency": "{name}: per layanan dan bulan",
        "chart_sla_by_regency": "Persentase permohonan selesai sesuai standar waktu, per kabupaten/kota",
        "chart_sla_by_service": "Persentase selesai sesuai standar waktu, per layanan dan bulan",
        "chart_requests_by_service": "Jumlah permohonan per layanan dan bulan",
        "regency_code": "Kode wilayah",
        "regency_name": "Kabupaten/kota",
        "service_code": "Kode layanan",
        "service_name": "Layanan",
        "period": "Bulan",
        "requests": "Permohonan",
        "completed": "Selesai",
        "sla_met_pct": "% selesai sesuai standar",
        "median_completion_hours": "Median waktu selesai (jam)",
        "standard_hours": "Standar waktu (jam)",
        "fee_anomalies": "Biaya di atas tarif resmi",
        "complaints": "Pengaduan",
        "complaints_resolved_in_time_pct": "% pengaduan selesai tepat waktu (SP4N-LAPOR!)",
        "no_service": "Tanpa layanan tertentu",
        "charts_suppressed": ("Grafik tidak ditampilkan: setiap angkanya mewakili kurang dari 5 orang "
                              "(lihat tabel)."),
        "download": "Unduh",
        "empty": "Tidak ada baris.",
        "suppression": ("Sel yang mewakili kurang dari 5 orang disembunyikan dan ditulis \u201c<5\u201d, juga dalam "
                        "unduhan CSV dan JSON; persentase dan median yang dihitung dari kurang dari 5 orang juga "
                        "disembunyikan. \u201c\u2013\u201d berarti tidak ada angka."),
        "definitions": ("% selesai sesuai standar: dari permohonan yang terbit (ISSUED) dengan standar waktu, "
                        "yang selesai dalam standar. Median: waktu dari pengajuan sampai terbit. Biaya di atas "
                        "tarif: permohonan yang dikenai biaya melebihi tarif resmi. % pengaduan selesai tepat "
                        "waktu: dari pengaduan yang masuk, yang berstatus selesai (RESOLVED) paling lambat 3 + 5 "
                        "hari kerja (batas verifikasi dan tindak lanjut SP4N-LAPOR!) sejak dibuat."),
        "checkpoint_title": "Verifikasi catatan: checkpoint bertanda tangan terbaru",
        "checkpoint_intro": ("Setiap peristiwa yang diterima provinsi dicatat dalam log transparansi yang hanya "
                             "bisa ditambah (pohon Merkle, RFC 6962). Checkpoint di bawah ini ditandatangani "
                             "provinsi (Ed25519); siapa pun dapat memeriksanya dengan kunci publik saja."),
        "checkpoint_none": "Belum ada checkpoint.",
        "checkpoint_origin": "Asal log",
        "checkpoint_size": "Jumlah entri",
        "checkpoint_root": "Hash akar (hex)",
        "checkpoint_signed_at": "Ditandatangani (UTC)",
        "checkpoint_key": "Kunci verifikasi (publik)",
        "checkpoint_note": "Catatan bertanda tangan (format C2SP signed note)",
        "checkpoint_how": ("Cara memeriksa: unduh catatan dan kunci verifikasi di atas, lalu jalankan skrip "
                           "mandiri dari panduan audit (hanya butuh pustaka Python `cryptography`), atau "
                           "`simpul audit verify` bila Anda memegang salinan data."),
        "checkpoint_guide": "Panduan audit (docs/audit.md)",
        "checkpoint_script": ("memeriksa bukti inklusi atau tanda terima (receipt) terhadap checkpoint dengan kunci "
                              "publik provinsi:"),
        "checkpoint_guide_missing": "Panduan audit: docs/audit.md di repositori Simpul.",
        "generated": "Dibuat",
        "internal_note": ("Angka internal tanpa penyembunyian ada pada `simpul report`; situs publik ini "
                          "menyembunyikan sel kecil."),
        "lang_name": "Bahasa Indonesia",
    },
    "en": {
        "site_title": "Public Service Transparency, Central Java",
        "nav_overview": "Province overview",
        "nav_regencies": "Regencies and cities",
        "nav_checkpoint": "Verify the record",
        "overview_intro": ("How many public-service requests each regency and city received, how many were completed "
                           "within the legal service standard, how often citizens were charged above the official "
                           "tariff, and how many complaints were handled in time. Figures from Simpul, the event "
                           "bus of the Central Java provincial government."),
        "regency_intro": "Per service and month (the month a request was submitted, a complaint filed).",
        "no_data": "No data for this regency or city yet.",
        "table_regencies": "Per regency and city (all services and months)",
        "table_province_services": "Province per service and month",
        "table_regency": "{name}: per service and month",
        "chart_sla_by_regency": "Share of requests completed within the standard time, per regency and city",
        "chart_sla_by_service": "Share completed within the standard time, per service and month",
        "chart_requests_by_service": "Requests per service and month",
        "regency_code": "Region code",
        "regency_name": "Regency/city",
        "service_code": "Service code",
        "service_name": "Service",
        "period": "Month",
        "requests": "Requests",
        "completed": "Completed",
        "sla_met_pct": "% within the standard",
        "median_completion_hours": "Median completion time (hours)",
        "standard_hours": "Standard time (hours)",
        "fee_anomalies": "Fees above the official tariff",
        "complaints": "Complaints",
        "complaints_resolved_in_time_pct": "% complaints resolved in time (SP4N-LAPOR!)",
        "no_service": "No particular service",
        "charts_suppressed": "No chart: every figure it would draw stands for fewer than 5 people (see the table).",
        "download": "Download",
        "empty": "No rows.",
        "suppression": ("Cells standing for fewer than 5 people are suppressed and shown as \u201c<5\u201d, in the "
                        "CSV and JSON downloads too; shares and medians computed from fewer than 5 people are "
                        "suppressed as well. \u201c\u2013\u201d means no figure."),
        "definitions": ("% within the standard: of the requests issued (ISSUED) that have a standard time, those "
                        "completed within it. Median: time from submission to issue. Fees above the tariff: "
                        "requests charged more than the official tariff. % complaints resolved in time: of the "
                        "complaints filed, those RESOLVED within 3 + 5 working days (the SP4N-LAPOR! verification "
                        "and follow-up deadlines) of filing."),
        "checkpoint_title": "Verify the record: the latest signed checkpoint",
        "checkpoint_intro": ("Every event the province accepts is recorded in an append-only transparency log "
                             "(a Merkle tree, RFC 6962). The checkpoint below is signed by the province (Ed25519); "
                             "anyone can check it with the public key alone."),
        "checkpoint_none": "No checkpoint yet.",
        "checkpoint_origin": "Log origin",
        "checkpoint_size": "Entries",
        "checkpoint_root": "Root hash (hex)",
        "checkpoint_signed_at": "Signed (UTC)",
        "checkpoint_key": "Verifier key (public)",
        "checkpoint_note": "Signed note (C2SP signed-note format)",
        "checkpoint_how": ("How to check: download the note and the verifier key above, then run the standalone "
                           "script of the audit guide (it needs only the Python library `cryptography`), or "
                           "`simpul audit verify` if you hold a copy of the data."),
        "checkpoint_guide": "Audit guide (docs/audit.md)",
        "checkpoint_script": "checks an inclusion proof or a receipt against its checkpoint with the province's key:",
        "checkpoint_guide_missing": "Audit guide: docs/audit.md in the Simpul repository.",
        "generated": "Built",
        "internal_note": ("The unsuppressed internal figures are those of `simpul report`; this public site "
                          "suppresses small cells."),
        "lang_name": "English",
    },
}
