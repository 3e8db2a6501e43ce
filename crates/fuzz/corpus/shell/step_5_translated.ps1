Import-Module MSOnline
Connect-MsolService
$credValue = Get-AuthCertificateBase64 -FileName OAuthCert.cer
$ServiceName = "00000004-0000-0ff1-ce00-000000000000"
$p = Get-MsolServicePrincipal -ServicePrincipalName $ServiceName
New-MsolServicePrincipalCredential -AppPrincipalId $p.AppPrincipalId -Type asymmetric -Usage Verify -Value $credValue
