Write-Host "cert: $($p.AppPrincipalId) `"quoted`" `n $env:SYSTEMDRIVE\x" ; Write-Output 'single quoted' <# block
comment #> # tail
$x = 1.5; $y = $null; $x.Count; Get-Date
Set-MailUser -Identity $user.Identity `
  -HiddenFromAddressListsEnabled:$false -Confirm:$False
