// seccloud's own YARA test rules (R8): each fires on a sample the scan tests build.

rule SecCloud_Test_Marker
{
    meta:
        description = "The seccloud YARA test string, as written by the scan tests"
    strings:
        $marker = "SECCLOUD-YARA-TEST-MARKER-7f3a9c"
    condition:
        $marker
}

rule SecCloud_Test_Powershell_Download_Cradle
{
    meta:
        description = "PowerShell that downloads and runs a script in one line"
    strings:
        $iex = "IEX" nocase
        $dl = "DownloadString" nocase
        $wc = "Net.WebClient" nocase
    condition:
        filesize < 64KB and all of them
}
